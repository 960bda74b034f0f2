// spec 3.8 and 7.1 R23: IPv4 fragments to a multicast or broadcast MAC are reassembled before
// delivery; unicast fragments pass unchanged; broken datagrams are dropped and counted.
using System.Buffers.Binary;
using Mvtap.Core.Forwarding;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Core.Sim;
using static Mvtap.Core.Tests.Frames;

namespace Mvtap.Core.Tests;

public class DefragmentationTests
{
    private static byte[] Fragment(MacAddress dst, ushort id, int offset, int payload, bool more, byte fill)
    {
        var f = new byte[14 + 20 + payload];
        EthernetFrame.WriteHeader(f, dst, Ext, EthernetFrame.EtherTypeIPv4);
        var ip = f.AsSpan(14);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + payload));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], id);
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], (ushort)((more ? 0x2000 : 0) | offset / 8));
        ip[8] = 64; ip[9] = 17;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], 0x0a000001);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], 0xffffffff);
        ip[20..].Fill(fill);
        return f;
    }

    [Fact]
    public void R23_broadcast_fragments_arrive_as_one_reassembled_frame_and_unicast_ones_unchanged()
    {
        var lab = new SpecLab();
        lab.Net.ClearInboxes();
        lab.Net.InjectFromWire(Fragment(MacAddress.Broadcast, 7, 0, 1480, more: true, fill: 0xA1));
        Assert.Equal("", lab.Got()); // held
        lab.Net.InjectFromWire(Fragment(MacAddress.Broadcast, 7, 1480, 576, more: false, fill: 0xB2));
        Assert.Equal("B,B2,P,V,V2,L", lab.Got());
        var whole = Assert.Single(lab.Ep["V"].Inbox).Frame;
        Assert.Equal(2090, whole.Length);
        Assert.Equal(2076, BinaryPrimitives.ReadUInt16BigEndian(whole.AsSpan(16)));
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(whole.AsSpan(20)) & 0x3FFF); // no MF, offset 0
        Assert.Equal(0xA1, whole[14 + 20 + 1479]);
        Assert.Equal(0xB2, whole[14 + 20 + 1480]);
        Assert.Equal(0, OnesComplement(whole.AsSpan(14, 20)));

        var f1 = Fragment(lab.Mac("B"), 8, 0, 1480, more: true, fill: 1);
        var f2 = Fragment(lab.Mac("B"), 8, 1480, 576, more: false, fill: 2);
        lab.Net.ClearInboxes();
        lab.Net.InjectFromWire(f1);
        lab.Net.InjectFromWire(f2);
        Assert.Equal([f1, f2], lab.Ep["B"].Inbox.Select(x => x.Frame));
    }

    private static int OnesComplement(ReadOnlySpan<byte> header)
    {
        uint sum = 0;
        for (int i = 0; i < header.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(header[i..]);
        while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
        return (int)(~sum & 0xFFFF);
    }

    [Fact]
    public void Fragments_in_reverse_order_reassemble_too()
    {
        var d = new Ipv4Defragmenter();
        Assert.Equal(Ipv4Defragmenter.Result.Held, d.Add(Fragment(Group, 9, 1480, 100, false, 2), out _));
        Assert.Equal(Ipv4Defragmenter.Result.Complete, d.Add(Fragment(Group, 9, 0, 1480, true, 1), out var whole));
        Assert.Equal(14 + 20 + 1580, whole.Length);
    }

    [Fact]
    public void Overlapping_fragments_drop_the_datagram_and_count_it()
    {
        var lab = new SpecLab();
        lab.Net.InjectFromWire(Fragment(MacAddress.Broadcast, 10, 0, 1480, true, 1));
        lab.Net.InjectFromWire(Fragment(MacAddress.Broadcast, 10, 1472, 100, false, 2));
        Assert.Equal(2, lab.Port.Counters[DropReason.ReassemblyOverlap]); // the held fragment and this one
        Assert.Equal("", lab.Got());
    }

    [Fact]
    public void A_datagram_not_completed_within_30_seconds_is_dropped_and_counted()
    {
        var clock = new ManualClock();
        var d = new Ipv4Defragmenter(clock: clock);
        d.Add(Fragment(Group, 11, 0, 1480, true, 1), out _);
        clock.Ticks += 31_000;
        Assert.Equal(Ipv4Defragmenter.Result.Held, d.Add(Fragment(Group, 11, 1480, 100, false, 2), out _)); // the first one expired
        Assert.Equal(1, d.Counters[DropReason.ReassemblyTimeout]);
    }

    [Fact]
    public void A_held_datagram_expires_between_frames_when_its_30_seconds_are_up_and_the_wait_until_then_is_told()
    {
        var clock = new ManualClock();
        var d = new Ipv4Defragmenter(clock: clock);
        Assert.Null(d.ExpireDue()); // nothing held: nothing to wait for
        d.Add(Fragment(Group, 12, 0, 1480, true, 1), out _);
        clock.Ticks += 10_000;
        d.Add(Fragment(Group, 13, 0, 1480, true, 1), out _);
        Assert.Equal(TimeSpan.FromMilliseconds(20_001), d.ExpireDue()); // the first is due just after its 30 s
        clock.Ticks += 20_000;
        Assert.Equal(TimeSpan.FromMilliseconds(1), d.ExpireDue()); // exactly 30 s is not yet past them
        Assert.Equal(2, d.HeldDatagrams);
        clock.Ticks += 1;
        Assert.Equal(TimeSpan.FromMilliseconds(10_000), d.ExpireDue()); // the first went, the second is next
        Assert.Equal(1, d.HeldDatagrams);
        Assert.Equal(1, d.Counters[DropReason.ReassemblyTimeout]);
        clock.Ticks += 10_000;
        Assert.Null(d.ExpireDue());
        Assert.Equal(0, d.HeldDatagrams);
        Assert.Equal(2, d.Counters[DropReason.ReassemblyTimeout]);
    }
}
