// The kernel's reassembly rules one at a time (ip_frag_queue, inet_frag_queue_insert,
// ip_frag_reasm, ip_check_defrag), each on the smallest sequence that shows it.
using System.Buffers.Binary;
using Mvtap.Core.Forwarding;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using static Mvtap.Core.Tests.FragmentFrames;
using Result = Mvtap.Core.Forwarding.Ipv4Defragmenter.Result;

namespace Mvtap.Core.Tests;

public class ReassemblyRuleTests
{
    private static byte[] F(int offset, int length, bool more, ushort id = 1, byte fill = 0x5A, int ihl = 20, byte tos = 0, bool df = false) =>
        Fragment(MacAddress.Broadcast, id, offset, Filled(length, fill), more, ihl: ihl, tos: tos, df: df);

    private static string Run(Ipv4Defragmenter d, params byte[][] frames) =>
        string.Join(",", frames.Select(f => d.Add(f, out _).ToString()));

    [Fact]
    public void A_last_fragment_ending_before_data_already_held_discards_the_datagram()
    {
        var d = new Ipv4Defragmenter();
        Assert.Equal("Held,Held,Dropped", Run(d, F(0, 8, true), F(1000, 984, true), F(992, 8, false)));
        Assert.Equal(3, d.Counters[DropReason.ReassemblyInvalid]);
        Assert.Equal(0, d.HeldDatagrams);
    }

    [Fact]
    public void A_second_last_fragment_with_another_end_discards_the_datagram()
    {
        var d = new Ipv4Defragmenter();
        Assert.Equal("Held,Dropped", Run(d, F(16, 8, false), F(24, 8, false)));
        Assert.Equal(2, d.Counters[DropReason.ReassemblyInvalid]);
    }

    [Fact]
    public void A_fragment_past_the_known_end_discards_the_datagram()
    {
        var d = new Ipv4Defragmenter();
        Assert.Equal("Held,Held,Dropped", Run(d, F(16, 8, false), F(0, 8, true), F(24, 8, true)));
        Assert.Equal(3, d.Counters[DropReason.ReassemblyInvalid]);
    }

    [Fact]
    public void An_empty_fragment_discards_the_datagram()
    {
        var d = new Ipv4Defragmenter();
        Assert.Equal("Held,Dropped", Run(d, F(0, 8, true), F(8, 0, true)));
        Assert.Equal(2, d.Counters[DropReason.ReassemblyInvalid]);
    }

    [Fact]
    public void A_fragment_repeating_held_data_is_dropped_and_the_datagram_completes()
    {
        var d = new Ipv4Defragmenter();
        Assert.Equal("Held,Held,Dropped,Dropped,Complete", Run(d, F(0, 8, true), F(8, 8, true), F(0, 16, true), F(8, 8, true), F(16, 8, false)));
        Assert.Equal(2, d.Counters[DropReason.ReassemblyDuplicate]);
        Assert.Equal(0, d.Counters.TotalDrops - 2);
    }

    [Fact]
    public void An_overlap_that_is_not_a_pure_repeat_discards_the_datagram()
    {
        var d = new Ipv4Defragmenter();
        Assert.Equal("Held,Dropped,Held", Run(d, F(0, 16, true), F(8, 16, true), F(16, 8, false)));
        Assert.Equal(2, d.Counters[DropReason.ReassemblyOverlap]);
    }

    // The kernel judges a repeat against one "run" of adjacent fragments received in order; data
    // received as two runs (here the second half first) is two runs even though it is contiguous.
    [Fact]
    public void A_repeat_spanning_two_runs_received_out_of_order_discards_the_datagram_as_the_kernel_does()
    {
        var d = new Ipv4Defragmenter();
        Assert.Equal("Held,Held,Dropped", Run(d, F(8, 8, true), F(0, 8, true), F(4 * 0 + 0, 16, true)));
        Assert.Equal(3, d.Counters[DropReason.ReassemblyOverlap]);
    }

    [Fact]
    public void A_fragment_with_more_to_come_is_cut_to_a_multiple_of_8_bytes()
    {
        var d = new Ipv4Defragmenter();
        Assert.Equal(Result.Held, d.Add(F(0, 12, true, fill: 1), out _));
        Assert.Equal(Result.Complete, d.Add(F(8, 4, false, fill: 2), out var whole));
        Assert.Equal([1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2], whole[34..].ToArray());
    }

    [Fact]
    public void Completion_needs_every_byte_from_0_to_the_end()
    {
        var d = new Ipv4Defragmenter();
        Assert.Equal("Held,Held,Held,Complete", Run(d, F(24, 8, false), F(0, 8, true), F(16, 8, true), F(8, 8, true)));
    }

    private static byte[][] Covering(int end, int ihl = 20)
    {
        var frames = new List<byte[]>();
        const int chunk = 65528 / 8 / 4 * 8;
        for (int off = 0; off < end; off += chunk) frames.Add(F(off, Math.Min(chunk, end - off), off + chunk < end, ihl: ihl));
        return [.. frames];
    }

    private static Result AddAll(Ipv4Defragmenter d, byte[][] frames)
    {
        var last = Result.NotFragment;
        foreach (var f in frames) last = d.Add(f, out _);
        return last;
    }

    [Fact]
    public void The_largest_datagram_reassembles_and_one_byte_more_is_discarded_as_oversize()
    {
        var d = new Ipv4Defragmenter();
        var frames = Covering(65515);
        for (int i = 0; i < frames.Length - 1; i++) Assert.Equal(Result.Held, d.Add(frames[i], out _));
        Assert.Equal(Result.Complete, d.Add(frames[^1], out var whole));
        Assert.Equal(14 + 65535, whole.Length);
        Assert.Equal(65535, BinaryPrimitives.ReadUInt16BigEndian(whole[16..]));

        var over = Covering(65516);
        Assert.Equal(Result.Dropped, AddAll(d, over));
        Assert.Equal(over.Length, d.Counters[DropReason.ReassemblyOversize]);
        // with options in the first fragment's header the limit is lower
        var withOptions = Covering(65535 - 24 + 1, ihl: 24);
        Assert.Equal(Result.Dropped, AddAll(d, withOptions));
        Assert.Equal(0, d.HeldBytes);
    }

    [Fact]
    public void A_datagram_expires_30_seconds_after_its_first_fragment_however_many_follow()
    {
        var clock = new ManualClock();
        var d = new Ipv4Defragmenter(clock: clock);
        d.Add(F(0, 8, true), out _);
        clock.Ticks += 20_000;
        d.Add(F(8, 8, true), out _);
        clock.Ticks += 10_001;
        Assert.Equal(Result.Held, d.Add(F(16, 8, false), out _)); // a new datagram: the first two expired
        Assert.Equal(2, d.Counters[DropReason.ReassemblyTimeout]);
    }

    [Theory]
    [InlineData(63, "Complete")]
    [InlineData(64, "Held")]
    public void A_datagram_that_64_other_fragments_from_its_source_passed_starts_over(int others, string last)
    {
        var d = new Ipv4Defragmenter();
        Assert.Equal(Result.Held, d.Add(F(0, 8, true, id: 1), out _));
        for (int i = 0; i < others; i++) d.Add(F(8, 8, true, id: (ushort)(100 + i)), out _);
        Assert.Equal(last, d.Add(F(8, 8, false, id: 1), out _).ToString());
        Assert.Equal(others > 63 ? 1 : 0, d.Counters[DropReason.ReassemblyTooFar]);
    }

    [Fact]
    public void Above_the_memory_limit_every_fragment_is_refused_until_datagrams_expire()
    {
        var clock = new ManualClock();
        var d = new Ipv4Defragmenter(clock: clock, highThreshold: 64 * 1024);
        ushort id = 1;
        while (d.HeldBytes <= 64 * 1024) Assert.Equal(Result.Held, d.Add(F(0, 1480, true, id: id++), out _));
        Assert.Equal(Result.Dropped, d.Add(F(0, 8, true, id: 60000), out _));            // a new datagram
        Assert.Equal(Result.Dropped, d.Add(F(1480, 8, false, id: 1), out _));            // and one held: refused too
        Assert.Equal(2, d.Counters[DropReason.ReassemblyMemory]);
        clock.Ticks += 30_001;
        Assert.Equal("Held,Complete", Run(d, F(0, 8, true, id: 60000), F(8, 8, false, id: 60000)));
        Assert.Equal(id - 1, d.Counters[DropReason.ReassemblyTimeout]);
    }

    [Fact]
    public void The_whole_datagram_gets_DF_if_its_largest_fragment_had_it_and_CE_if_any_fragment_had_it()
    {
        var d = new Ipv4Defragmenter();
        d.Add(F(0, 16, true, tos: 0x02, df: true), out _);
        Assert.Equal(Result.Complete, d.Add(F(16, 8, false, tos: 0x03), out var whole));
        Assert.Equal(0x4000, BinaryPrimitives.ReadUInt16BigEndian(whole[20..]));
        Assert.Equal(0x03, whole[15]);
        // not-ECT mixed with ECT is refused
        d.Add(F(0, 16, true, id: 2, tos: 0x00), out _);
        Assert.Equal(Result.Dropped, d.Add(F(16, 8, false, id: 2, tos: 0x02), out _));
        Assert.Equal(2, d.Counters[DropReason.ReassemblyInvalid]);
    }

    [Fact]
    public void Fragments_behind_a_VLAN_tag_are_reassembled_with_the_tag_of_the_first()
    {
        var d = new Ipv4Defragmenter();
        d.Add(Fragment(MacAddress.Broadcast, 3, 8, Filled(8, 2), false, vlan: 5), out _);
        Assert.Equal(Result.Complete, d.Add(Fragment(MacAddress.Broadcast, 3, 0, Filled(8, 1), true, vlan: 9), out var whole));
        Assert.Equal(18 + 20 + 16, whole.Length);
        Assert.Equal(9, BinaryPrimitives.ReadUInt16BigEndian(whole[14..]));
    }

    [Fact]
    public void A_multicast_frame_the_kernel_would_not_treat_as_a_fragment_is_forwarded_unchanged()
    {
        var lab = new SpecLab();
        var bad = F(0, 8, true);
        bad[14] = 0x44; // IHL 4
        lab.Wire(bad);
        Assert.Equal("B,B2,P,V,V2,L", lab.Got());
        var lying = F(0, 8, true);
        lying[17] = 200; // total length beyond the frame
        lab.Wire(lying);
        Assert.Equal("B,B2,P,V,V2,L", lab.Got());
        Assert.Equal(0, lab.Port.Counters.TotalDrops);
    }

    [Fact]
    public void Reassembly_allocates_nothing_per_fragment_once_warm()
    {
        var d = new Ipv4Defragmenter();
        var frames = Enumerable.Range(0, 8).SelectMany(i => Covering(20_000).Select(f => { f[18] = 0; f[19] = (byte)i; return f; })).ToArray();
        void Round() { foreach (var f in frames) d.Add(f, out _); }
        Round();
        Round();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++) Round();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(8 * 12, d.Reassembled);
    }
}
