// Ipv4Defragmenter against ReassemblyModel (CsCheck) over random fragment sequences: several
// interleaved datagrams cut at random sizes, delivered out of order, with fragments lost
// (holes), repeated (duplicates, within one run or across two), shifted (overlaps), cut at
// every boundary near 65535, of several IHLs, TOS/ECN and DF mixes, some behind a VLAN tag,
// with junk fragments, non-fragments, time passing past the 30 s timeout and memory limits
// small enough to be hit. On every frame: the same verdict, exactly the same bytes when a
// datagram completes, never an exception; after every frame the same drops by reason and the
// same memory held. A failing case prints its seed; Check.Seed reproduces it.
using CsCheck;
using Mvtap.Core.Forwarding;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using static Mvtap.Core.Tests.FragmentFrames;
using Result = Mvtap.Core.Forwarding.Ipv4Defragmenter.Result;

namespace Mvtap.Core.Tests;

public sealed class ReassemblyPropertyTests
{
    private abstract record Step;
    private sealed record Frame(byte[] Bytes) : Step;
    private sealed record Wait(long Ms) : Step;

    private static readonly int[] Boundaries = [65456, 65464, 65472, 65480, 65488, 65496, 65504, 65512, 65520, 65528];

    /// <summary>One datagram's fragments, perturbed: lost, repeated, shifted, re-cut; then shuffled.</summary>
    private static IEnumerable<byte[]> Datagram(Random r, ushort id, uint source)
    {
        int ihl = r.Next(4) == 0 ? 20 + 4 * r.Next(11) : 20;
        int length = r.Next(5) switch
        {
            0 => r.Next(1, 64),
            1 => r.Next(1, 4000),
            2 => 65535 - ihl - r.Next(0, 24),       // the largest datagrams, and one byte past them
            3 => 65535 - 20 + r.Next(-16, 24),
            _ => r.Next(1, 20000),
        };
        if (length < 1) length = 1;
        int chunk = r.Next(3) switch { 0 => 8 * r.Next(1, 8), 1 => 1480, _ => 8 * r.Next(1, 1200) };
        var payload = new byte[length];
        r.NextBytes(payload);
        byte tos = (byte)r.Next(256);
        ushort? vlan = r.Next(6) == 0 ? (ushort)r.Next(1, 4095) : null;
        var pieces = new List<(int Off, int Len, bool More)>();
        for (int off = 0; off < length; off += chunk) pieces.Add((off, Math.Min(chunk, length - off), off + chunk < length));
        var frags = new List<(int Off, int Len, bool More)>(pieces);
        int perturb = r.Next(2) == 0 ? 0 : r.Next(1, 4);
        for (int i = 0; i < perturb && pieces.Count > 0; i++)
        {
            var p = pieces[r.Next(pieces.Count)];
            switch (r.Next(6))
            {
                case 0: frags.Remove(p); break;                                     // a hole
                case 1: frags.Add(p); break;                                        // a duplicate
                case 2: frags.Add((p.Off + 8, Math.Max(1, p.Len), p.More)); break; // shifted: an overlap
                case 3: if (p.Len > 16) frags.Add((p.Off, p.Len / 16 * 8, true)); break; // its head again
                case 4: frags.Add((p.Off, p.Len + r.Next(1, 9), p.More)); break;   // a longer copy
                default: frags.Add((r.Next(0, 8192) * 8, r.Next(0, 40), r.Next(2) == 0)); break;
            }
        }
        if (r.Next(3) > 0) Shuffle(r, frags); else if (r.Next(2) == 0) frags.Reverse();
        foreach (var (off, len, more) in frags)
        {
            if (off > 65528) continue;
            int avail = Math.Clamp(length - off, 0, len);
            var bytes = new byte[Math.Min(len, 65535 - ihl)];
            if (avail > 0) payload.AsSpan(off, avail).CopyTo(bytes);
            byte t = r.Next(8) == 0 ? (byte)r.Next(256) : tos;
            yield return Fragment(MacAddress.Broadcast, id, off, bytes, more, ihl: ihl, tos: t, df: r.Next(3) == 0,
                source: source, vlan: r.Next(8) == 0 ? (ushort)7 : vlan);
        }
    }

    private static byte[] Junk(Random r)
    {
        int off = r.Next(3) == 0 ? Boundaries[r.Next(Boundaries.Length)] : r.Next(0, 8192) * 8;
        int len = r.Next(4) switch { 0 => 0, 1 => r.Next(1, 9), 2 => 65535 - 20 - off + r.Next(-8, 9), _ => r.Next(1, 2000) };
        len = Math.Clamp(len, 0, 65515);
        var f = Fragment(MacAddress.Broadcast, (ushort)r.Next(4), off, Filled(len, (byte)r.Next(256)), r.Next(2) == 0,
            ihl: 20 + 4 * r.Next(11), source: (uint)r.Next(3));
        switch (r.Next(6))
        {
            case 0: f[14] = (byte)r.Next(256); break;                          // version/IHL as anything
            case 1: f[16] = (byte)r.Next(256); f[17] = (byte)r.Next(256); break; // total length lying
            case 2: Array.Resize(ref f, r.Next(0, f.Length + 1)); break;       // cut short
            case 3: f[20] = (byte)(r.Next(2) * 0x20); f[21] = 0; break;       // MF or nothing at offset 0
        }
        return f;
    }

    private static void Shuffle<T>(Random r, List<T> list)
    {
        for (int i = list.Count - 1; i > 0; i--)
        {
            int j = r.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }

    private static List<Step> Scenario(int seed)
    {
        var r = new Random(seed);
        var streams = new List<Queue<byte[]>>();
        int datagrams = r.Next(1, 7);
        for (int i = 0; i < datagrams; i++)
            streams.Add(new Queue<byte[]>(Datagram(r, (ushort)r.Next(6), (uint)r.Next(2))));
        var steps = new List<Step>();
        while (streams.Any(s => s.Count > 0))
        {
            var s = streams[r.Next(streams.Count)];
            if (s.Count > 0) steps.Add(new Frame(s.Dequeue()));
            int roll = r.Next(1000);
            if (roll < 25) steps.Add(new Frame(Junk(r)));
            else if (roll < 27) steps.Add(new Wait(r.Next(0, 30_000)));
            else if (roll < 28) steps.Add(new Wait(30_001));
        }
        return steps;
    }

    /// <summary>Outcomes over a whole property run, so a generator that never reaches one is noticed.</summary>
    private sealed class Seen
    {
        public long Complete;
        public readonly long[] Drops = new long[DropReasons.Count];
    }

    private static void Run(int seed, long threshold, Seen seen)
    {
        var clock = new ManualClock();
        var counters = new DropCounters();
        var d = new Ipv4Defragmenter(counters, clock, threshold);
        var model = new ReassemblyModel(threshold, 30_000);
        int n = 0;
        foreach (var step in Scenario(seed))
        {
            if (step is Wait w) { clock.Ticks += w.Ms; continue; }
            var frame = ((Frame)step).Bytes;
            var expected = model.Add(frame, clock.Ticks, out var whole);
            var got = d.Add(frame, out var datagram);
            n++;
            Assert.True(expected == got, $"frame {n}: model {expected}, defragmenter {got}");
            if (got == Result.Complete) Assert.True(datagram.SequenceEqual(whole), $"frame {n}: the reassembled bytes differ");
            foreach (var reason in Enum.GetValues<DropReason>())
                Assert.True(model.Drops.GetValueOrDefault(reason) == counters[reason], $"frame {n}: {reason} model {model.Drops.GetValueOrDefault(reason)}, defragmenter {counters[reason]}");
            Assert.True(model.Held == d.HeldBytes, $"frame {n}: held model {model.Held}, defragmenter {d.HeldBytes}");
        }
        lock (seen)
        {
            seen.Complete += d.Reassembled;
            foreach (var reason in Enum.GetValues<DropReason>()) seen.Drops[(int)reason] += counters[reason];
        }
    }

    private static void AssertReached(Seen seen, params DropReason[] reasons)
    {
        Assert.True(seen.Complete > 0, "no datagram completed");
        foreach (var r in reasons) Assert.True(seen.Drops[(int)r] > 0, $"no {r.Name()} drop generated");
    }

    private static void Report(Seen seen) =>
        Console.WriteLine($"reassembly property: {seen.Complete} complete, drops " +
            string.Join(' ', Enum.GetValues<DropReason>().Where(r => seen.Drops[(int)r] > 0).Select(r => $"{r.Name()}={seen.Drops[(int)r]}")));

    private static readonly DropReason[] RuleDrops =
        [DropReason.ReassemblyInvalid, DropReason.ReassemblyOverlap, DropReason.ReassemblyDuplicate, DropReason.ReassemblyOversize, DropReason.ReassemblyTimeout,
         DropReason.ReassemblyTooFar];

    [Fact]
    public void The_defragmenter_completes_exactly_what_the_model_completes_with_the_same_bytes_and_drops()
    {
        var seen = new Seen();
        Gen.Int.Sample(seed => Run(seed, Ipv4Defragmenter.DefaultHighThreshold, seen), iter: 300);
        AssertReached(seen, RuleDrops);
        Report(seen);
    }

    [Fact]
    public void Under_memory_pressure_both_refuse_the_same_fragments()
    {
        var seen = new Seen();
        Gen.Select(Gen.Int, Gen.Int[2_000, 120_000]).Sample((seed, threshold) => Run(seed, threshold, seen), iter: 300);
        AssertReached(seen, [.. RuleDrops, DropReason.ReassemblyMemory]);
        Report(seen);
    }
}
