// The randomized differential tester proves something only if it agrees where the truth agrees and
// disagrees where it does not: the kernel run against the kernel (two topologies, two sets of
// devices, the same scenario) must agree on every seed, and an mvtap whose core was told to get one
// mode rule wrong (ForwardingFault, a test-only setting of the port) must be caught: a difference
// other than the known cause (class a), on a seed where the same mvtap without the fault has none.
// The broken-rule runs take the first seeds whose scenario has a frame the flipped rule decides
// (FaultExercise), so a generator that stopped drawing such frames fails here rather than passing
// unnoticed. They move every endpoint through the switch, so that the known cause (a NIC moved by a
// runtime is no longer followed) hides no difference.
using Mvtap.Core.Forwarding;
using Xunit.Abstractions;

namespace Mvtap.Conformance.Tests;

[Collection("randomized-differential-proof")]
public sealed class HarnessProofTests(ITestOutputHelper output)
{
    /// <summary>The kernel against itself: a subset of CI's seeds unless SEEDS says otherwise.</summary>
    private static readonly int[] KernelSeeds = [.. SeedRuns.CiSeeds.Take(4)];

    [Fact]
    public void TheKernelAgreesWithItselfOnEverySeed()
    {
        var results = new List<SeedResult>();
        foreach (int seed in SeedRuns.Seeds(KernelSeeds))
        {
            var r = SeedRuns.Run(seed, Flavor.Kernel, Flavor.Kernel);
            output.WriteLine(r.Report);
            results.Add(r);
        }
        string summary = SeedRuns.Summary(results);
        output.WriteLine(summary);
        var first = results.FirstOrDefault(r => !r.Agreed);
        Assert.True(first is null, summary + "\n\n" + first?.Report);
    }

    [Theory]
    [InlineData(nameof(ForwardingFault.BridgeReflectionReachesBridges))]
    [InlineData(nameof(ForwardingFault.VepaShortCircuits))]
    public void AnMvtapWithAModeRuleFlippedIsCaught(string rule)
    {
        var fault = Enum.Parse<ForwardingFault>(rule);
        var seeds = FaultExercise.FirstSeeds(fault, count: 3);
        Assert.True(seeds.Count == 3, $"seeds 1-{FaultExercise.Searched} draw only {seeds.Count} scenarios with a frame {rule} decides");
        foreach (int seed in seeds)
        {
            var r = SeedRuns.Run(seed, Flavor.Kernel, Flavor.Mvtap, fault, runtimeMoves: false);
            output.WriteLine(r.Agreed ? r.Report : string.Join('\n', r.Report.Split('\n').Take(6)));
            if (r.Class != "?") continue;
            // caught, if without the fault the same seed has no such difference (none but the known cause, class a)
            var healthy = SeedRuns.Run(seed, Flavor.Kernel, Flavor.Mvtap, runtimeMoves: false);
            output.WriteLine(healthy.Report.Split('\n')[0]);
            if (healthy.Class != "?") return;
        }
        Assert.Fail($"none of seeds {string.Join(' ', seeds)}, whose scenarios have a frame {rule} decides, caught an mvtap with it");
    }
}
