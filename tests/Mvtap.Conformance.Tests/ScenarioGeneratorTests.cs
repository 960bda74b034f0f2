// The generator's promises, without any device: a seed always gives the same scenario (so a
// disagreement can be replayed alone), every scenario has the shape issue 11 asks for, and across
// the seeds every ingredient it lists turns up.
using Mvtap.Core.Model;
using static Mvtap.Conformance.Tests.Addresses;

namespace Mvtap.Conformance.Tests;

public sealed class ScenarioGeneratorTests
{
    private static readonly Scenario[] Sample = [.. Enumerable.Range(1, 200).Select(s => ScenarioGenerator.Generate(s))];

    [Fact]
    public void ASeedAlwaysGivesTheSameScenario()
    {
        for (int seed = 1; seed <= 50; seed++)
            Assert.Equal(ScenarioText.Describe(ScenarioGenerator.Generate(seed)), ScenarioText.Describe(ScenarioGenerator.Generate(seed)));
    }

    [Fact]
    public void EveryScenarioHasOnePassthruEndpointOrThreeToFiveOthersAndTwentyToFiftyFrames()
    {
        foreach (var sc in Sample)
        {
            var creates = sc.Steps.OfType<CreateStep>().ToList();
            if (creates.Any(c => c.Mode == EndpointMode.Passthru)) Assert.Single(creates);
            else Assert.InRange(creates.Count, 3, 5);
            Assert.InRange(sc.Frames.Count(), 20, 50);
            Assert.Equal(creates.Count, sc.Steps.OfType<MoveStep>().Count());
            Assert.Equal(sc.Frames.Count(), sc.Frames.Select(f => f.Number).Distinct().Count());
        }
    }

    [Fact]
    public void AcrossTheSeedsEveryIngredientTurnsUp()
    {
        var steps = Sample.SelectMany(s => s.Steps).ToList();
        var frames = Sample.SelectMany(s => s.Steps.OfType<FramesStep>().SelectMany(b => b.Frames.Select(f => (b, f)))).ToList();
        var ingredients = new Dictionary<string, bool>
        {
            ["a relay"] = Sample.Any(s => s.Relay),
            ["no relay"] = Sample.Any(s => !s.Relay),
            ["every mode"] = Enum.GetValues<EndpointMode>().All(m => steps.OfType<CreateStep>().Any(c => c.Mode == m)),
            ["nodst"] = steps.OfType<CreateStep>().Any(c => (c.Flags & EndpointFlags.NoDst) != 0),
            ["a source list"] = steps.OfType<SourcesStep>().Any(s => s.Op == MacaddrOperation.Set),
            ["an endpoint that starts down"] = Sample.Any(s => s.Steps.OfType<FramesStep>().First().States.Values.Any(e => !e.Up)),
            ["a move by a runtime"] = steps.OfType<MoveStep>().Any(m => m.ByRuntime),
            ["an ip maddr join"] = steps.OfType<JoinStep>().Any(j => !j.BySocket),
            ["a packet socket join"] = steps.OfType<JoinStep>().Any(j => j.BySocket),
            ["allmulticast"] = steps.OfType<FlagStep>().Any(f => !f.Promisc),
            ["promisc"] = steps.OfType<FlagStep>().Any(f => f.Promisc),
            ["up and down inside and on the switch"] = steps.OfType<UpDownStep>().Select(u => (u.Up, u.Inside)).Distinct().Count() == 4,
            ["a mode change"] = steps.OfType<ModeStep>().Any(),
            ["a source-list edit"] = steps.OfType<SourcesStep>().Select(s => s.Op).Distinct().Count() == 4,
            ["frames from the wire, endpoints and the lower's stack"] = frames.Any(x => x.f.From == "wire") && frames.Any(x => x.f.From == "lower")
                && frames.Any(x => x.f.From.StartsWith('e')),
            ["unicast to an endpoint, the lower, an outside host"] = frames.Any(x => x.b.States.Values.Any(e => e.Mac == x.f.Destination && e.Mac != Lower))
                && frames.Any(x => x.f.Destination == Lower) && frames.Any(x => x.f.Destination == Outside2),
            ["broadcast"] = frames.Any(x => x.f.Destination.IsBroadcast),
            ["a joined group"] = frames.Any(x => x.b.States.Values.Any(e => e.Groups.Contains(x.f.Destination))),
            ["an unjoined group"] = frames.Any(x => x.f.Destination.IsMulticast && !x.f.Destination.IsBroadcast
                && x.b.States.Values.All(e => !e.Groups.Contains(x.f.Destination))),
            ["PAUSE"] = frames.Any(x => x.f.Bytes[12] == 0x88 && x.f.Bytes[13] == 0x08),
            ["a spoofed sender"] = frames.Any(x => x.f.From.StartsWith('e') && x.f.Source != x.b.States[x.f.From].Mac),
            ["a source-listed sender"] = frames.Any(x => x.b.States.Values.Any(e => e.Sources.Contains(x.f.Source))),
            ["a VLAN tag"] = frames.Any(x => x.f.Bytes[12] == 0x81),
        };
        Assert.Empty(ingredients.Where(kv => !kv.Value).Select(kv => kv.Key));
    }
}
