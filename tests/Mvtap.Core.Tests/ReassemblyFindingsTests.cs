// The reassembly findings of issue 9 (point 1-2), each as it was reproduced on 662f358:
// a fragment near the 64 KiB boundary ended the datapath thread, a datagram with a hole was
// "completed" with another sender's bytes, and 16 junk first fragments blocked all fragmented
// multicast for 30 s. Frames from the wire through the port, as the datapath hands them over.
using Mvtap.Core.Frames;
using static Mvtap.Core.Tests.FragmentFrames;

namespace Mvtap.Core.Tests;

public class ReassemblyFindingsTests
{
    [Fact]
    public void A_fragment_ending_between_65476_and_65535_minus_IHL_is_held_without_throwing_and_forwarding_goes_on()
    {
        var lab = new SpecLab();
        foreach (int offset in new[] { 65456, 65464, 65472, 65480, 65488, 65496, 65504, 65512, 65520, 65528 })
            foreach (bool more in new[] { true, false })
                lab.Wire(Fragment(Mdns, (ushort)(offset / 8 + (more ? 1 : 0)), offset, Filled(8, 0xEE), more, destination: MdnsIp));
        Assert.Equal("", lab.Got());
        lab.Wire(Frames.Make(MacAddress.Broadcast, Frames.Ext));
        Assert.Equal("B,B2,P,V,V2,L", lab.Got());
    }

    [Fact]
    public void A_datagram_with_a_hole_is_never_completed_with_bytes_left_from_an_earlier_one()
    {
        var lab = new SpecLab();
        var secret = "SECRET-DATA"u8.ToArray();
        var earlier = new byte[1000];
        for (int i = 0; i < earlier.Length; i++) earlier[i] = secret[i % secret.Length];
        lab.Wire(Fragment(MacAddress.Broadcast, 1, 0, earlier.AsSpan(0, 504), more: true));
        lab.Wire(Fragment(MacAddress.Broadcast, 1, 504, earlier.AsSpan(504), more: false));
        Assert.Equal(1020, PayloadOfV(lab).Length + 20);

        lab.Wire(Fragment(MacAddress.Broadcast, 2, 0, Filled(8, 0x11), more: true));
        lab.Wire(Fragment(MacAddress.Broadcast, 2, 1000, Filled(984, 0x22), more: true));
        lab.Wire(Fragment(MacAddress.Broadcast, 2, 992, Filled(8, 0x33), more: false));
        Assert.Equal("", lab.Got());
        Assert.Equal(3, lab.Port.Counters.TotalDrops);
    }

    private static byte[] PayloadOfV(SpecLab lab) => Payload(Assert.Single(lab.Ep["V"].Inbox).Frame).ToArray();

    [Fact]
    public void Junk_first_fragments_do_not_block_fragmented_multicast()
    {
        var lab = new SpecLab();
        for (ushort id = 100; id < 100 + 64; id++)
            lab.Wire(Fragment(MacAddress.Broadcast, id, 0, Filled(8, 0x99), more: true));
        lab.Wire(Fragment(MacAddress.Broadcast, 7, 0, Filled(1480, 0xA1), more: true));
        lab.Wire(Fragment(MacAddress.Broadcast, 7, 1480, Filled(100, 0xB2), more: false));
        Assert.Equal("B,B2,P,V,V2,L", lab.Got());
        Assert.Equal(1600, Assert.Single(lab.Ep["V"].Inbox).Frame.Length - 14);
    }
}
