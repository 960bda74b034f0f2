// Which seeds run and what one seed's run reports. CI runs a fixed set; `SEEDS=N START=S` (environment)
// runs seeds S..S+N-1 instead (`SEEDS=1 START=S` replays one alone). `DIFFTEST_QUIET_MS` sets how long
// a batch must be quiet before it counts as settled (default 300); `DIFFTEST_FOLLOW_MS` how long mvtap
// is given to follow a change made inside a container (default 5000, StepRunner);
// `DIFFTEST_RUNTIME_MOVES=0` moves every endpoint through the switch; `DIFFTEST_REPORT=FILE` appends every
// seed's report to FILE. A seed whose reported difference involves a frame that arrived after its
// batch had settled is run once more with four times the quiet period before it counts; one whose
// observation points dropped frames (a ring with no room: the observation has a hole) is run once
// more, and if they drop again its difference is reported as the harness's (class "dropped").
using System.Text;
using Mvtap.Core.Forwarding;

namespace Mvtap.Conformance.Tests;

internal sealed record SeedResult(int Seed, bool Agreed, string Class, string Report, int Leaks, int Frames, IReadOnlyList<TimeSpan> FollowDelays,
    long ObserverDrops = 0);

internal static class SeedRuns
{
    /// <summary>The seeds CI runs (with the kernel-only and broken-rule proofs: about a minute on a 2-core machine at load 30; 2.5 at load 67).</summary>
    public static readonly int[] CiSeeds = [.. Enumerable.Range(1, 8)];

    public static IReadOnlyList<int> Seeds(IReadOnlyList<int> fixedSet)
    {
        if (!int.TryParse(Environment.GetEnvironmentVariable("SEEDS"), out int n) || n <= 0) return fixedSet;
        int start = int.TryParse(Environment.GetEnvironmentVariable("START"), out int s) ? s : 1;
        return [.. Enumerable.Range(start, n)];
    }

    private static TimeSpan Quiet =>
        TimeSpan.FromMilliseconds(int.TryParse(Environment.GetEnvironmentVariable("DIFFTEST_QUIET_MS"), out int ms) && ms > 0 ? ms : 300);

    /// <summary>`DIFFTEST_RUNTIME_MOVES=0`: every endpoint is moved through the switch, none as a runtime moves a NIC.</summary>
    private static bool RuntimeMoves => Environment.GetEnvironmentVariable("DIFFTEST_RUNTIME_MOVES") != "0";

    public static SeedResult Run(int seed, Flavor a, Flavor b, ForwardingFault fault = ForwardingFault.None, bool? runtimeMoves = null,
        bool idleHostPort = false)
    {
        var sc = ScenarioGenerator.Generate(seed, runtimeMoves ?? RuntimeMoves);
        var quiet = Quiet;
        string retried = "";
        for (int attempt = 0; ; attempt++)
        {
            var (ra, rb) = ScenarioRunner.Run(sc, a, b, new RunOptions(quiet, fault, idleHostPort));
            var verdict = Comparison.Compare(sc, ra, rb);
            bool late = verdict.Reported?.Frame is int f && (ra.Late.Contains(f) || rb.Late.Contains(f));
            bool dropped = verdict.Reported is not null && ra.ObserverDrops + rb.ObserverDrops > 0;
            if ((late || dropped) && attempt == 0)
            {
                if (late) quiet *= 4;
                retried = late ? " (run again with a longer quiet period: a frame arrived late)" : " (run again: an observation point's ring had dropped frames)";
                continue;
            }
            var result = Report(sc, ra, rb, verdict, late, dropped, retried);
            Append(result.Report);
            return result;
        }
    }

    private static SeedResult Report(Scenario sc, SideRecord a, SideRecord b, Verdict verdict, bool late, bool dropped, string retried)
    {
        int leaks = a.FilterLeaks.Count + b.FilterLeaks.Count;
        long drops = a.ObserverDrops + b.ObserverDrops;
        List<TimeSpan> delays = [.. a.FollowDelays, .. b.FollowDelays];
        int frames = sc.Frames.Count();
        if (verdict.Reported is not { } diff)
            return new SeedResult(sc.Seed, true, "", $"seed {sc.Seed}: {a.Label} and {b.Label} agree on {frames} frames{retried}"
                + (leaks > 0 ? $"; {leaks} kernel copies set aside as its multicast hash filter's (Q7)" : "")
                + (drops > 0 ? $"; {drops} frames dropped by observation points" : "")
                + (Verbose ? "\n" + ScenarioText.Describe(sc) + Seen(sc, a) : ""), leaks, frames, delays, drops);

        string cls = late ? "late" : dropped ? "dropped" : verdict.Class;
        var text = new StringBuilder();
        text.AppendLine($"seed {sc.Seed}: {a.Label} and {b.Label} DISAGREE (class {cls}){retried}; replay alone: SEEDS=1 START={sc.Seed}");
        text.AppendLine($"{verdict.KnownCause + verdict.Other} frames or commands differ, {verdict.KnownCause} of them for the known cause (a)");
        text.AppendLine((verdict.FirstOther is null ? "first difference: " : "first difference not of class (a): ") + diff.Text);
        if (late) text.AppendLine("    (a copy of this frame arrived after its batch had settled, twice: a timing problem of the harness or of a side)");
        if (dropped) text.AppendLine($"    (the observation points' rings dropped frames, twice: {a.Label} {a.ObserverDrops}, {b.Label} {b.ObserverDrops}; the observation has holes)");
        if (diff.Hint.Length > 0) text.AppendLine("hint: " + diff.Hint);
        text.Append(ScenarioText.Describe(sc));
        foreach (var side in new[] { a, b })
        {
            foreach (var (step, note) in side.Notes.OrderBy(n => n.Key)) text.AppendLine($"{side.Label} note at step {step}: {note}");
            foreach (var (ep, state) in side.MulticastAtEnd) text.AppendLine($"{side.Label} {ep} at the end: {state}");
            foreach (var leak in side.FilterLeaks) text.AppendLine($"{side.Label} set aside: {leak}");
            foreach (var line in side.CountersAtEnd) text.AppendLine($"{side.Label} {line}");
            if (side.ObserverDrops > 0) text.AppendLine($"{side.Label}: its observation points dropped {side.ObserverDrops} frames");
            foreach (var line in side.Log) text.AppendLine($"{side.Label} log: {line}");
        }
        return new SeedResult(sc.Seed, false, cls, text.ToString(), leaks, frames, delays, drops);
    }

    /// <summary>`DIFFTEST_VERBOSE=1`: an agreeing seed's report shows its scenario and where each frame went too.</summary>
    private static bool Verbose => Environment.GetEnvironmentVariable("DIFFTEST_VERBOSE") == "1";

    private static string Seen(Scenario sc, SideRecord side)
    {
        var text = new StringBuilder();
        foreach (var f in sc.Frames)
            text.AppendLine($"  #{f.Number}: {side.SendOutcomes.GetValueOrDefault(f.Number) ?? Comparison.Where(side.CopiesOf(f.Number))}");
        foreach (var (step, note) in side.Notes) text.AppendLine($"  note at step {step}: {note}");
        foreach (var leak in side.FilterLeaks) text.AppendLine($"  set aside: {leak}");
        return text.ToString();
    }

    private static void Append(string report)
    {
        if (Environment.GetEnvironmentVariable("DIFFTEST_REPORT") is not { Length: > 0 } path) return;
        lock (typeof(SeedRuns)) File.AppendAllText(path, report.TrimEnd() + "\n");
    }

    /// <summary>"N seeds, A agreed, D disagreed (class a: x, ?: y), seeds ...".</summary>
    public static string Summary(IReadOnlyList<SeedResult> results)
    {
        var bad = results.Where(r => !r.Agreed).ToList();
        var classes = bad.GroupBy(r => r.Class).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => $"class {g.Key}: {g.Count()} (seeds {string.Join(' ', g.Select(r => r.Seed))})");
        return $"{results.Count} seeds, {results.Count - bad.Count} agreed, {bad.Count} disagreed"
            + (bad.Count > 0 ? "; " + string.Join("; ", classes) : "")
            + $"; {results.Sum(r => r.Frames)} frames, {results.Sum(r => r.Leaks)} kernel copies set aside as hash-filter leaks"
            + $", {results.Sum(r => r.ObserverDrops)} frames dropped by observation points"
            + FollowSummary(results.SelectMany(r => r.FollowDelays).Order().ToList());
    }

    private static string FollowSummary(List<TimeSpan> d)
    {
        if (d.Count == 0) return "";
        return $"; mvtap followed {d.Count} container changes in {d[d.Count / 2].TotalMilliseconds:0} ms (median), {d[^1].TotalMilliseconds:0} ms (max)";
    }
}
