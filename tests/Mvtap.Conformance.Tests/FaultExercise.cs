// Which scenarios can show a flipped mode rule (ForwardingFault) at all: those with a frame whose
// fate that rule decides, by the scenario's expected endpoint states. The broken-rule proof runs
// such seeds, found by drawing scenarios (no device needed), instead of hoping a fixed set has one.
using Mvtap.Core.Forwarding;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;

namespace Mvtap.Conformance.Tests;

internal static class FaultExercise
{
    /// <summary>How many seeds (from 1) are drawn when looking for scenarios that exercise a rule.</summary>
    public const int Searched = 300;

    public static IReadOnlyList<int> FirstSeeds(ForwardingFault fault, int count) =>
        [.. Enumerable.Range(1, Searched).Where(s => Exercises(ScenarioGenerator.Generate(s, runtimeMoves: false), fault)).Take(count)];

    public static bool Exercises(Scenario sc, ForwardingFault fault) =>
        sc.Steps.OfType<FramesStep>().Any(b => b.Frames.Any(f => Decides(sc, b, f, fault)));

    private static bool Decides(Scenario sc, FramesStep batch, FrameSpec f, ForwardingFault fault)
    {
        var up = batch.States.Where(kv => kv.Value.Up).ToList();
        switch (fault)
        {
            case ForwardingFault.BridgeReflectionReachesBridges:
                // a multicast from the wire (or, with a relay, reflected back from it) whose source is an up bridge
                // endpoint, which another up bridge endpoint's filter accepts
                if (!f.Destination.IsMulticast || IsPause(f) || (f.From != "wire" && !sc.Relay)) return false;
                var src = up.FirstOrDefault(kv => kv.Value.Mac == f.Source && kv.Value.Mode == EndpointMode.Bridge);
                return src.Key is not null && up.Any(kv => kv.Key != src.Key && kv.Value.Mode == EndpointMode.Bridge && Accepts(kv.Value, f.Destination));
            case ForwardingFault.VepaShortCircuits:
                // unicast from an up vepa endpoint to another up vepa endpoint's address
                return batch.States.TryGetValue(f.From, out var from) && from.Up && from.Mode == EndpointMode.Vepa
                    && up.Any(kv => kv.Key != f.From && kv.Value.Mode == EndpointMode.Vepa && kv.Value.Mac == f.Destination);
            default:
                return false;
        }
    }

    private static bool IsPause(FrameSpec f) => f.Bytes[12] == 0x88 && f.Bytes[13] == 0x08;

    private static bool Accepts(EndpointState e, MacAddress group) =>
        group.IsBroadcast || e.AllMulti || e.Promisc || e.Groups.Contains(group);
}
