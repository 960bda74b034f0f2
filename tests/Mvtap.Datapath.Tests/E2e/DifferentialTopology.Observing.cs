// How one side of a differential test is observed (spec Appendix A): every observation point's
// test frames since the last reset, collected once the frames injected have settled. Settling is
// a bounded wait for an event: mvtap's datapath has read every frame injected into it and finished
// the wake-up that read them (forwarded, flushed), then no new frame arrives anywhere for a quiet period. Several sides can settle together (a scenario run
// on the kernel and on mvtap in lockstep), so their quiet periods overlap instead of adding up.

namespace Mvtap.Datapath.Tests.E2e;

internal sealed partial class DifferentialTopology
{
    private long _processedMark, _passMark;

    private long Processed => Datapath is null ? 0 : Datapath.Stats.FramesFromLower + Datapath.Stats.FramesFromEndpoints;

    private int DrainAll()
    {
        int n = _wire.Drain();
        foreach (var m in _members.Values) n += m.Observer?.Drain() ?? 0;
        foreach (var o in _lowerStack) n += o.Drain();
        while (_passed.TryDequeue(out var f))
        {
            _passedFrames.Add(f);
            n++;
        }
        return n;
    }

    /// <summary>Frames the observation points' rings had no room for since the topology was made (FrameObserver.Drops);
    /// an observation taken while this grew may lack copies that did arrive.</summary>
    public long ObserverDrops
    {
        get
        {
            DrainAll();
            return _wire.Drops + _members.Values.Sum(m => m.Observer?.Drops ?? 0) + _lowerStack.Sum(o => o.Drops);
        }
    }

    /// <summary>Forgets every frame observed so far; what is injected next is counted from here.</summary>
    public void ResetObservations()
    {
        DrainAll();
        _wire.Frames.Clear();
        foreach (var m in _members.Values) m.Observer?.Frames.Clear();
        foreach (var o in _lowerStack) o.Frames.Clear();
        _passedFrames.Clear();
        _passMark = Datapath?.Stats.LowerStackPassed ?? 0;
        MarkInjection();
    }

    /// <summary>Frames injected after this call are the ones <see cref="Settle"/> waits for mvtap to read.</summary>
    public void MarkInjection() => _processedMark = Processed;

    /// <summary>
    /// Waits until the frames injected since each side's mark have settled: for mvtap (bounded, 5 s) until its
    /// datapath read <paramref name="injected"/>[i] frames, then for all sides together until nothing new arrived
    /// anywhere for <paramref name="quiet"/> (bounded: 5 s plus the quiet period). The waits only bound how long
    /// stragglers (the kernel's broadcast work queue, mvtap's thread) are given; no assertion depends on them.
    /// </summary>
    public static void Settle(IReadOnlyList<DifferentialTopology> sides, IReadOnlyList<int> injected, TimeSpan quiet)
    {
        for (int i = 0; i < sides.Count; i++)
        {
            var side = sides[i];
            if (side.Datapath is not { } datapath) continue;
            TestNet.WaitFor(() => side.Processed - side._processedMark, n => n >= injected[i]);
            // ... and the wake-up that read the last of them has forwarded and flushed them
            long wakeup = datapath.Stats.Wakeups;
            TestNet.WaitFor(() => datapath.Stats.CompletedWakeups, done => done >= wakeup);
        }
        var deadline = DateTime.UtcNow.AddSeconds(5) + quiet;
        var last = DateTime.UtcNow;
        while (DateTime.UtcNow - last < quiet && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(10);
            int n = 0;
            foreach (var side in sides) n += side.DrainAll();
            if (n > 0) last = DateTime.UtcNow;
        }
        foreach (var side in sides)
        {
            if (side.Datapath?.Fault is { } fault) throw new InvalidOperationException("mvtap's datapath thread died", fault);
            side.MarkInjection();
        }
    }

    /// <summary>What every observation point saw since the last <see cref="ResetObservations"/>.</summary>
    public Observation Collect()
    {
        DrainAll();
        var seen = new SortedDictionary<string, List<byte[]>>(StringComparer.Ordinal);
        foreach (var m in _members.Values) if (m.Observer is { } o) seen[m.Name] = [.. o.Frames];
        seen["wire"] = [.. _wire.Frames];
        List<byte[]> stack = IsKernel ? [.. _lowerStack.SelectMany(o => o.Frames)] : [.. _passedFrames];
        long lower = IsKernel ? stack.Count : Datapath!.Stats.LowerStackPassed - _passMark;
        return new Observation(seen, lower, LabelOf, stack);
    }

    /// <summary>
    /// Runs <paramref name="inject"/> (which injects <paramref name="injected"/> frames) and returns what
    /// each observation point saw. Earlier frames are discarded first. For mvtap it first waits (bounded)
    /// until the datapath has read every injected frame, then both flavours wait until nothing new
    /// arrived for a while (bounded).
    /// </summary>
    public Observation Observe(int injected, Action inject)
    {
        ResetObservations();
        inject();
        Settle([this], [injected], Quiet);
        return Collect();
    }
}

/// <summary>What every observation point saw in one Observe: test frames per endpoint and on the
/// wire (exact bytes), how many frames reached (kernel) or were passed to (mvtap) the lower's stack,
/// and those frames themselves.</summary>
internal sealed class Observation(SortedDictionary<string, List<byte[]>> seen, long lowerStack, Func<uint, string> label, IReadOnlyList<byte[]> lowerStackFrames)
{
    public SortedDictionary<string, List<byte[]>> Seen { get; } = seen;
    public long LowerStack { get; } = lowerStack;
    /// <summary>The test frames that reached the lower's stack (kernel) or that mvtap's core passed to it.</summary>
    public IReadOnlyList<byte[]> LowerStackFrames { get; } = lowerStackFrames;

    /// <summary>One line, endpoints in role order then the wire and the lower's stack:
    /// "B=x,y B2=- ... wire=z lower=1" with each frame named by the label it was injected under.</summary>
    public string Summary()
    {
        var parts = Seen.Where(kv => kv.Key != "wire").OrderBy(kv => Order(kv.Key)).ThenBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => $"{kv.Key}={Labels(kv.Value)}").ToList();
        parts.Add($"wire={Labels(Seen["wire"])}");
        parts.Add($"lower={LowerStack}");
        return string.Join(' ', parts);
    }

    /// <summary>Every frame's bytes per observation point, for an exact comparison.</summary>
    public string Bytes() => string.Join('\n', Seen.Select(kv =>
        kv.Key + ": " + string.Join(' ', kv.Value.Select(Convert.ToHexString).Order(StringComparer.Ordinal))));

    private static int Order(string role) => "PVBST".IndexOf(role[0]);

    private string Labels(List<byte[]> frames) =>
        frames.Count == 0 ? "-" : string.Join(',', frames.Select(f => label(FrameObserver.TagOf(f)!.Value)).Order(StringComparer.Ordinal));
}
