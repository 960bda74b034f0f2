// The lower's receive filter follows Port.UnicastFilter (spec 4.2): on a lower with a unicast
// filter (a kernel macvlan device has IFF_UNICAST_FLT) each up endpoint's MAC is added as a
// secondary unicast address, visible as a "self permanent" fdb entry, and leaves with it; the
// lower is not made promiscuous. (veth, which has no filter, is covered by ReachabilityTests.)
using Mvtap.Core.Model;
using Mvtap.Datapath;

namespace Mvtap.Datapath.Tests;

[Collection("datapath")]
public sealed class UnicastFilterTests
{
    [Fact]
    public void EndpointMacsEnterAndLeaveTheLowersUnicastList()
    {
        using var topo = new DatapathTopology();
        var nsA = topo.NewNamespace();
        topo.Host.Ip("link", "add", "link", DatapathTopology.LowerName, "name", "kmv0", "type", "macvlan", "mode", "bridge");
        topo.Host.Ip("link", "set", "kmv0", "up");
        using var sw = new DatapathSwitch(topo.Host.Name);
        var dp = sw.OpenLower("kmv0");
        Assert.True(dp.Lower.SupportsUnicastFilter);
        Assert.True(dp.Port.Lower.SupportsUnicastFilter);

        var a = sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "a" }, nsA.Name, "eth0");
        string mac = a.Mac.ToString();
        Assert.Contains(a.Mac, dp.Lower.FilterState.Unicast);
        Assert.False(dp.Lower.FilterState.Promiscuous);
        Assert.Contains(mac, TestNet.Run("bridge", "-n", topo.Host.Name, "fdb", "show", "dev", "kmv0"));
        Assert.Contains("promiscuity 0", topo.Host.Ip("-d", "link", "show", "kmv0"));

        dp.Port.SetUp(a, false);
        Assert.Empty(dp.Lower.FilterState.Unicast);
        Assert.DoesNotContain(mac, TestNet.Run("bridge", "-n", topo.Host.Name, "fdb", "show", "dev", "kmv0"));

        dp.Port.SetUp(a, true);
        sw.RemoveEndpoint(a);
        Assert.Empty(dp.Lower.FilterState.Unicast);
        Assert.DoesNotContain(mac, TestNet.Run("bridge", "-n", topo.Host.Name, "fdb", "show", "dev", "kmv0"));
    }
}
