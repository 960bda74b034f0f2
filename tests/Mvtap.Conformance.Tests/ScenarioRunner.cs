// Runs one scenario on two sides in lockstep (the kernel against mvtap, or the kernel against itself to
// prove the harness): two identical topologies (DifferentialTopology, one lower each), every step done
// on both before the next (in parallel: the two share nothing), every batch of frames sent into both
// and settled together, then everything each side saw collected per frame. mvtap runs in-process
// (DatapathSwitch: the datapath, core and container watch mvtapd runs; see README.md for why).
// After the run each kernel side's copies that only its salted multicast hash let through are set
// aside (KernelFilterLeaks), while the topology is still there to probe.
using Mvtap.Core.Forwarding;
using Mvtap.Datapath.Tests.E2e;

namespace Mvtap.Conformance.Tests;

/// <param name="IdleHostPort">mvtap's side has a host port (up, addressed, never sending: checked at the end) on its lower
/// besides the scenario's endpoints (DifferentialTopology.AddIdleHostPort).</param>
internal sealed record RunOptions(TimeSpan Quiet, ForwardingFault Fault = ForwardingFault.None, bool IdleHostPort = false);

internal static class ScenarioRunner
{
    public static (SideRecord A, SideRecord B) Run(Scenario sc, Flavor a, Flavor b, RunOptions options)
    {
        var records = new[] { new SideRecord(a), new SideRecord(b) };
        var sides = new DifferentialTopology?[2];
        try
        {
            Parallel.For(0, 2, i => sides[i] = Open(records[i], sc.Relay, options));
            var topo = sides.Select(s => s!).ToArray();
            foreach (var t in topo) t.ResetObservations();
            var settledAt = new Dictionary<(int Side, int Frame, string Point), int>();
            for (int index = 0; index < sc.Steps.Count; index++)
            {
                var step = sc.Steps[index];
                if (step is FramesStep batch)
                {
                    SendBatch(topo, records, batch, options);
                    for (int i = 0; i < 2; i++) Count(topo[i].Collect(), batch, i, settledAt);
                    continue;
                }
                int at = index;
                Parallel.For(0, 2, i => StepRunner.Do(topo[i], records[i], at, step));
            }
            for (int i = 0; i < 2; i++) Record(topo[i].Collect(), records[i], sc, i, settledAt);
            for (int i = 0; i < 2; i++) records[i].ObserverDrops = topo[i].ObserverDrops;
            for (int i = 0; i < 2; i++)
                if (records[i].Flavor == Flavor.Kernel) KernelFilterLeaks.SetAside(topo[i], sc, records[i], options.Quiet);
                else
                {
                    StepRunner.RecordMulticastAtEnd(topo[i], records[i]);
                    StepRunner.RecordCountersAtEnd(topo[i], records[i]);
                }
            foreach (var t in topo) t.AssertHostPortIdle();
            return (records[0], records[1]);
        }
        finally
        {
            Parallel.For(0, 2, i => sides[i]?.Dispose());
        }
    }

    private static DifferentialTopology Open(SideRecord record, bool relay, RunOptions options)
    {
        bool kernel = record.Flavor == Flavor.Kernel;
        var t = new DifferentialTopology(kernel, spoofCheck: false, relay, log: line => { lock (record.Log) record.Log.Add(line); });
        if (!kernel) t.Datapath!.Port.Fault = options.Fault;
        if (!kernel && options.IdleHostPort) t.AddIdleHostPort();
        return t;
    }

    private static void SendBatch(DifferentialTopology[] topo, SideRecord[] records, FramesStep batch, RunOptions options)
    {
        var injected = new int[2];
        for (int i = 0; i < 2; i++)
        {
            topo[i].MarkInjection();
            foreach (var f in batch.Frames)
            {
                var outcome = topo[i].Send(f.From, f.Bytes);
                records[i].SendOutcomes[f.Number] = outcome;
                // what mvtap's datapath reads for sure; the lower's own frames come back only through a relay
                if (outcome is null && f.From != "lower") injected[i]++;
            }
        }
        DifferentialTopology.Settle(topo, injected, options.Quiet);
    }

    private static IEnumerable<(int Frame, string Point)> Copies(Observation o)
    {
        foreach (var (point, frames) in o.Seen)
            foreach (var f in frames) yield return (ScenarioText.NumberOf(f), point);
        foreach (var f in o.LowerStackFrames) yield return (ScenarioText.NumberOf(f), SideRecord.LowerStack);
    }

    // How many copies of this batch's frames each point had once the batch settled.
    private static void Count(Observation o, FramesStep batch, int side, Dictionary<(int, int, string), int> settledAt)
    {
        var numbers = batch.Frames.Select(f => f.Number).ToHashSet();
        foreach (var (frame, point) in Copies(o))
            if (numbers.Contains(frame)) settledAt[(side, frame, point)] = settledAt.GetValueOrDefault((side, frame, point)) + 1;
    }

    private static void Record(Observation o, SideRecord record, Scenario sc, int side, Dictionary<(int, int, string), int> settledAt)
    {
        foreach (var (point, frames) in o.Seen)
            foreach (var f in frames) record.Add(ScenarioText.NumberOf(f), point, f);
        foreach (var f in o.LowerStackFrames) record.Add(ScenarioText.NumberOf(f), SideRecord.LowerStack, f);
        foreach (var frame in sc.Frames)
            foreach (var (point, copies) in record.CopiesOf(frame.Number))
                if (copies.Count > settledAt.GetValueOrDefault((side, frame.Number, point))) record.Late.Add(frame.Number);
    }
}
