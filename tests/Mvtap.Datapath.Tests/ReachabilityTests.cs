// Real traffic through mvtap's Linux datapath: two endpoints (veth pairs into their own
// namespaces) on a veth lower whose far end is an external host, pinged every way; and the
// same topology built with the kernel's own macvlan must give the same reachability table.
using Mvtap.Core.Model;
using Mvtap.Datapath;

namespace Mvtap.Datapath.Tests;

[Collection("datapath")]
public sealed class ReachabilityTests
{
    private static readonly (string From, string To)[] Pairs =
        [("a", "ext"), ("b", "ext"), ("ext", "a"), ("ext", "b"), ("a", "b"), ("b", "a")];

    private static readonly Dictionary<string, string> Ips = new() { ["ext"] = "10.77.0.1", ["a"] = "10.77.0.2", ["b"] = "10.77.0.3" };

    private static EndpointMode Mode(string name) => name switch
    {
        "vepa" => EndpointMode.Vepa,
        "bridge" => EndpointMode.Bridge,
        "private" => EndpointMode.Private,
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    private static string Table(Dictionary<string, string> nsOf) =>
        string.Join(", ", Pairs.Select(p => $"{p.From}->{p.To}:{(DatapathTopology.Ping(nsOf[p.From], Ips[p.To]) ? "yes" : "no")}"));

    private static string MvtapTable(string mode, bool hairpin = false)
    {
        using var topo = new DatapathTopology(hairpin);
        var nsA = topo.NewNamespace();
        var nsB = topo.NewNamespace();
        using var sw = new DatapathSwitch(topo.Host.Name);
        var dp = sw.OpenLower(DatapathTopology.LowerName);
        sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "a", Mode = Mode(mode) }, nsA.Name, "eth0");
        sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "b", Mode = Mode(mode) }, nsB.Name, "eth0");
        DatapathTopology.Address(nsA, "eth0", 2);
        DatapathTopology.Address(nsB, "eth0", 3);
        var table = Table(new() { ["ext"] = topo.Ext.Name, ["a"] = nsA.Name, ["b"] = nsB.Name });
        Assert.Null(dp.Fault);
        return table;
    }

    private static string KernelTable(string mode, bool hairpin = false)
    {
        using var topo = new DatapathTopology(hairpin);
        var nsA = topo.NewNamespace();
        var nsB = topo.NewNamespace();
        topo.AddKernelMacvlan("kva", mode, nsA, 2);
        topo.AddKernelMacvlan("kvb", mode, nsB, 3);
        return Table(new() { ["ext"] = topo.Ext.Name, ["a"] = nsA.Name, ["b"] = nsB.Name });
    }

    [Theory]
    [InlineData("vepa")]
    [InlineData("bridge")]
    public void EndpointAndExternalHostReachEachOther(string mode)
    {
        using var topo = new DatapathTopology();
        var nsA = topo.NewNamespace();
        using var sw = new DatapathSwitch(topo.Host.Name);
        var dp = sw.OpenLower(DatapathTopology.LowerName);
        var ep = sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "a", Mode = Mode(mode) }, nsA.Name, "eth0");
        DatapathTopology.Address(nsA, "eth0", 2);

        Assert.True(DatapathTopology.Ping(nsA.Name, DatapathTopology.ExtIp, attempts: 3), "endpoint -> external host");
        Assert.True(DatapathTopology.Ping(topo.Ext.Name, "10.77.0.2", attempts: 3), "external host -> endpoint");
        Assert.True(ep.Counters.TxPackets > 0 && ep.Counters.RxPackets > 0);
        // veth has no unicast filter: the endpoint's MAC is admitted by making the lower promiscuous (spec 4.2)
        Assert.False(dp.Lower.SupportsUnicastFilter);
        Assert.True(dp.Lower.FilterState.Promiscuous);
        Assert.Null(dp.Fault);
    }

    [Fact]
    public void BridgeEndpointsReachEachOtherVepaEndpointsDoNot()
    {
        Assert.Equal("a->ext:yes, b->ext:yes, ext->a:yes, ext->b:yes, a->b:yes, b->a:yes", MvtapTable("bridge"));
        Assert.Equal("a->ext:yes, b->ext:yes, ext->a:yes, ext->b:yes, a->b:no, b->a:no", MvtapTable("vepa"));
    }

    [Theory]
    [InlineData("vepa")]
    [InlineData("bridge")]
    [InlineData("private")]
    public void SameReachabilityAsTheKernelsMacvlan(string mode)
    {
        Assert.Equal(KernelTable(mode), MvtapTable(mode));
    }

    // With a hairpin switch VEPA endpoints reach each other through it; private ones still do not
    // (their broadcast ARP comes back to the sender only, spec 3.4).
    [Theory]
    [InlineData("vepa")]
    [InlineData("private")]
    public void SameReachabilityAsTheKernelsMacvlanBehindAHairpinSwitch(string mode)
    {
        var kernel = KernelTable(mode, hairpin: true);
        Assert.Equal(mode == "vepa" ? "a->ext:yes, b->ext:yes, ext->a:yes, ext->b:yes, a->b:yes, b->a:yes"
            : "a->ext:yes, b->ext:yes, ext->a:yes, ext->b:yes, a->b:no, b->a:no", kernel);
        Assert.Equal(kernel, MvtapTable(mode, hairpin: true));
    }
}
