// Compares two sides' records of one scenario, step by step in the scenario's order: each command's
// outcome (accepted, or the same error), each frame's send, then each frame's copies: which
// endpoints got it and how often, byte for byte; the wire, byte for byte; the lower's stack, by tag
// (the kernel strips an 802.1Q tag before a protocol socket sees the frame, mvtap's core sees it
// whole). Every difference is looked at: one that involves an endpoint mvtap had stopped following
// (issue 11's point 1: a change made inside its container not followed, an up it could not push,
// evidenced by the run's notes and mvtap's log) is class (a); the first other one, if any, is what
// is reported to be classified by hand, else the first class (a) one.
using System.Text;

namespace Mvtap.Conformance.Tests;

internal sealed record Difference(int Step, int? Frame, string Text, string Hint);

internal sealed record Verdict(Difference? First, Difference? FirstOther, int KnownCause, int Other)
{
    public bool Agreed => First is null;
    /// <summary>"a" when every difference is the known cause, "?" when some other one needs a look.</summary>
    public string Class => First is null ? "" : FirstOther is null ? "a" : "?";
    public Difference? Reported => FirstOther ?? First;
}

internal static class Comparison
{
    public static Verdict Compare(Scenario sc, SideRecord a, SideRecord b)
    {
        Difference? first = null, other = null;
        int known = 0, others = 0;
        void Found(Difference d)
        {
            first ??= d;
            if (d.Hint.Length > 0) known++;
            else { others++; other ??= d; }
        }

        for (int index = 0; index < sc.Steps.Count; index++)
        {
            var step = sc.Steps[index];
            if (step is not FramesStep batch)
            {
                var (oa, ob) = (a.StepOutcomes.GetValueOrDefault(index), b.StepOutcomes.GetValueOrDefault(index));
                if (oa != ob)
                    Found(new Difference(index, null, $"step {index}: {ScenarioText.Command(step)}\n    {a.Label}: {oa ?? "accepted"}\n    {b.Label}: {ob ?? "accepted"}", ""));
                continue;
            }
            foreach (var f in batch.Frames)
            {
                var (sa, sb) = (a.SendOutcomes.GetValueOrDefault(f.Number), b.SendOutcomes.GetValueOrDefault(f.Number));
                if (sa != sb)
                {
                    Found(new Difference(index, f.Number, $"step {index}: {ScenarioText.Frame(f)}\n    {a.Label}: {sa ?? "sent"}\n    {b.Label}: {sb ?? "sent"}",
                        KnownCause(sc, batch, index, f, [f.From], a, b)));
                    continue;
                }
                var (ca, cb) = (a.CopiesOf(f.Number), b.CopiesOf(f.Number));
                var differing = ca.Keys.Union(cb.Keys).Where(p => !Same(p, ca.GetValueOrDefault(p), cb.GetValueOrDefault(p))).ToList();
                if (differing.Count == 0) continue;
                var text = new StringBuilder($"step {index}: {ScenarioText.Frame(f)}\n");
                text.AppendLine($"    {a.Label,-6}: {Where(ca)}");
                text.Append($"    {b.Label,-6}: {Where(cb)}");
                foreach (var p in differing.Where(p => Count(ca, p) == Count(cb, p)))
                    text.Append($"\n    at {p} the bytes differ:\n      {a.Label}: {Hex(ca[p])}\n      {b.Label}: {Hex(cb[p])}");
                Found(new Difference(index, f.Number, text.ToString(), KnownCause(sc, batch, index, f, differing, a, b)));
            }
        }
        return new Verdict(first, other, known, others);
    }

    private static int Count(SortedDictionary<string, List<byte[]>> copies, string point) => copies.GetValueOrDefault(point)?.Count ?? 0;

    private static bool Same(string point, List<byte[]>? x, List<byte[]>? y)
    {
        if ((x?.Count ?? 0) != (y?.Count ?? 0)) return false;
        if (x is null || point == SideRecord.LowerStack) return true;
        return Hex(x) == Hex(y!);
    }

    private static string Hex(List<byte[]> copies) => string.Join(' ', copies.Select(Convert.ToHexString).Order(StringComparer.Ordinal));

    /// <summary>"e0, e2 x2, wire, lower" or "nowhere".</summary>
    public static string Where(SortedDictionary<string, List<byte[]>> copies)
    {
        var parts = copies.Where(kv => kv.Value.Count > 0).Select(kv => kv.Value.Count == 1 ? kv.Key : $"{kv.Key} x{kv.Value.Count}").ToList();
        return parts.Count == 0 ? "nowhere" : string.Join(", ", parts);
    }

    /// <summary>
    /// The known cause (issue 11's point 1), or "": the endpoints mvtap had lost by then are those with a note
    /// before this step (a change inside the container not followed, an up after which the interface never
    /// worked) or a log line saying mvtap could not push a change into the interface. The difference is theirs
    /// when the frame was sent by, from or to one of them, or only they saw it differently.
    /// </summary>
    private static string KnownCause(Scenario sc, FramesStep batch, int frameStep, FrameSpec f, List<string> differing, SideRecord a, SideRecord b)
    {
        foreach (var side in new[] { a, b })
        {
            var lost = new Dictionary<string, string>();
            foreach (var (step, note) in side.Notes.Where(n => n.Key < frameStep).OrderBy(n => n.Key))
            {
                string name = note[..note.IndexOfAny([':', ' '])];
                lost.TryAdd(name, $"step {step} ({ScenarioText.Command(sc.Steps[step])}): {note}");
            }
            foreach (var line in side.Log.Where(l => l.Contains("cannot follow the endpoint", StringComparison.Ordinal)))
                lost.TryAdd(line[..line.IndexOf(':')], $"mvtap log: {line}");
            var involved = lost.Keys.Where(n => f.From == n || batch.States[n].Mac == f.Source || batch.States[n].Mac == f.Destination).ToList();
            if (involved.Count == 0 && differing.All(lost.ContainsKey)) involved = differing;
            if (involved.Count > 0) return "(a) " + string.Join("; ", involved.Select(n => lost[n]));
        }
        return "";
    }
}
