// The generator's promises, without any device: a seed always gives the same scenario (so a
// disagreement can be replayed alone), and the scenarios draw what issue 11 asks for.
namespace Mvtap.Conformance.Tests;

public sealed class ScenarioGeneratorTests
{
    [Fact]
    public void ASeedAlwaysGivesTheSameScenario()
    {
        for (int seed = 1; seed <= 50; seed++)
            Assert.Equal(ScenarioText.Describe(ScenarioGenerator.Generate(seed)), ScenarioText.Describe(ScenarioGenerator.Generate(seed)));
    }
}
