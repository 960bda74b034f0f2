// The demo's table on the sim lower is the seed's description of the modes, and the host port
// (column A-hostport) reaches A in every one.
using Mvtap.Core.Model;
using Mvtap.Core.Sim;

namespace Mvtap.Core.Tests;

public class SimLabTests
{
    [Theory]
    [InlineData(EndpointMode.Vepa, false, false, true, false)]
    [InlineData(EndpointMode.Vepa, true, true, true, true)]
    [InlineData(EndpointMode.Bridge, false, true, true, false)]
    [InlineData(EndpointMode.Private, false, false, true, false)]
    [InlineData(EndpointMode.Private, true, false, true, false)]
    public void Who_reaches_whom_matches_the_seed(EndpointMode mode, bool hairpin, bool endpoints, bool external, bool host)
    {
        var result = SimLab.Run(new LabScenario(mode.Name(), mode, hairpin));
        var got = result.Pairs.ToDictionary(p => p.Pair, p => p.Reaches);
        Assert.Equal(endpoints, got["A-B"]);
        Assert.Equal(endpoints, got["A-C"]);
        Assert.Equal(endpoints, got["B-C"]);
        Assert.Equal(external, got["A-ext"]);
        Assert.Equal(host, got["A-host"]);
        Assert.True(got["A-hostport"], "the host port reaches A in every mode");
    }
}
