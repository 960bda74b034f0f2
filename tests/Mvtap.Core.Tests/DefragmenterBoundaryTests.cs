// Reassembly at its edges, each case an input the reassembly fuzz target (fuzz/, target
// "reassembly") turns up or checks: a fragment ending just below 65535 - IHL, a fragment past
// the datagram's known end, a datagram whose first header and payload together exceed 65535.
using System.Buffers.Binary;
using Mvtap.Core.Forwarding;
using Mvtap.Core.Frames;

namespace Mvtap.Core.Tests;

public class DefragmenterBoundaryTests
{
    private static byte[] Fragment(ushort id, int offset, int payload, bool more, int ihl = 20, byte fill = 0xAB)
    {
        var f = new byte[14 + ihl + payload];
        EthernetFrame.WriteHeader(f, new MacAddress(0x01005E0000FBUL), new MacAddress(0x02AA00000001UL), EthernetFrame.EtherTypeIPv4);
        var ip = f.AsSpan(14);
        ip[0] = (byte)(0x40 | ihl / 4);
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(ihl + payload));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], id);
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], (ushort)((more ? 0x2000 : 0) | offset / 8));
        ip[8] = 64;
        ip[9] = 17;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], 0x0a000001);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], 0xe00000fb);
        ip[ihl..].Fill(fill);
        return f;
    }

    [Fact]
    public void A_last_fragment_ending_just_below_65535_minus_IHL_is_held_not_written_past_the_buffer()
    {
        var defrag = new Ipv4Defragmenter();
        // issue 9's frame: offset 65472, 8 bytes, to 224.0.0.251 (ended the lower's datapath)
        Assert.Equal(Ipv4Defragmenter.Result.Held, defrag.Add(Fragment(1, 65472, 8, more: false), out _));
        Assert.Equal(Ipv4Defragmenter.Result.Held, defrag.Add(Fragment(2, 65504, 8, more: false), out _));
    }

    [Fact]
    public void A_fragment_past_the_known_end_discards_the_datagram_instead_of_completing_it_with_stale_bytes()
    {
        var defrag = new Ipv4Defragmenter();
        Assert.Equal(Ipv4Defragmenter.Result.Held, defrag.Add(Fragment(3, 0, 8, more: true), out _));
        Assert.Equal(Ipv4Defragmenter.Result.Held, defrag.Add(Fragment(3, 1000, 984, more: true), out _));
        // 8 + 984 + 8 bytes "add up" to 1000, but 8..992 were never sent
        Assert.NotEqual(Ipv4Defragmenter.Result.Complete, defrag.Add(Fragment(3, 992, 8, more: false), out var whole));
        Assert.True(whole.IsEmpty);
    }

    [Fact]
    public void A_last_fragment_ending_before_data_already_held_discards_the_datagram()
    {
        var defrag = new Ipv4Defragmenter();
        Assert.Equal(Ipv4Defragmenter.Result.Held, defrag.Add(Fragment(4, 16, 16, more: true), out _));
        Assert.Equal(Ipv4Defragmenter.Result.Dropped, defrag.Add(Fragment(4, 8, 8, more: false), out _));
        Assert.Equal(0, defrag.HeldDatagrams);
    }

    [Fact]
    public void A_datagram_whose_header_and_payload_exceed_65535_bytes_is_dropped_not_delivered_with_a_wrapped_length()
    {
        var defrag = new Ipv4Defragmenter();
        // a first fragment with 40 bytes of options, then the rest up to 65512: 60 + 65512 > 65535
        Assert.Equal(Ipv4Defragmenter.Result.Held, defrag.Add(Fragment(5, 0, 65000, more: true, ihl: 60), out _));
        var result = defrag.Add(Fragment(5, 65000, 512, more: false), out var whole);
        Assert.Equal(Ipv4Defragmenter.Result.Dropped, result);
        Assert.True(whole.IsEmpty);
    }

    [Fact]
    public void Fragments_that_cover_the_datagram_still_complete_it_whole()
    {
        var defrag = new Ipv4Defragmenter();
        Assert.Equal(Ipv4Defragmenter.Result.Held, defrag.Add(Fragment(6, 1480, 520, more: false, fill: 2), out _));
        Assert.Equal(Ipv4Defragmenter.Result.Complete, defrag.Add(Fragment(6, 0, 1480, more: true, fill: 1), out var whole));
        Assert.Equal(14 + 20 + 2000, whole.Length);
        Assert.Equal(20 + 2000, BinaryPrimitives.ReadUInt16BigEndian(whole[16..]));
        Assert.True(InternetChecksum.Ipv4HeaderVerifies(whole.Slice(14, 20)));
    }
}
