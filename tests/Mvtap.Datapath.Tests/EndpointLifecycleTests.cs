// Endpoints come and go while the datapath thread runs: their sockets enter and leave its epoll
// set through the command queue, a removed endpoint's veth pair is deleted, and the MAC leaves
// the lower's filter with the last endpoint; an endpoint brought up can be delivered to at once.
using Mvtap.Core.Model;
using Mvtap.Datapath;
using Mvtap.Linux.Netlink;

namespace Mvtap.Datapath.Tests;

[Collection("datapath")]
public sealed class EndpointLifecycleTests
{
    [Fact]
    public void EndpointsAddedAndRemovedWhileRunning()
    {
        using var topo = new DatapathTopology();
        var nsA = topo.NewNamespace();
        var nsB = topo.NewNamespace();
        using var sw = new DatapathSwitch(topo.Host.Name);
        var dp = sw.OpenLower(DatapathTopology.LowerName);

        var a = sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "a" }, nsA.Name, "eth0");
        DatapathTopology.Address(nsA, "eth0", 2);
        Assert.True(DatapathTopology.Ping(nsA.Name, DatapathTopology.ExtIp, attempts: 3));
        string outerA = sw.AttachmentOf(a).OuterName;

        sw.RemoveEndpoint(a);
        Assert.DoesNotContain(outerA, topo.Host.Ip("-br", "link"));
        Assert.DoesNotContain("eth0", nsA.Ip("-br", "link"));
        Assert.False(dp.Lower.FilterState.Promiscuous);

        // A new endpoint reuses slot 0 with another socket.
        var b = sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "b" }, nsB.Name, "eth0");
        Assert.Equal(a.Slot, b.Slot);
        DatapathTopology.Address(nsB, "eth0", 3);
        Assert.True(DatapathTopology.Ping(nsB.Name, DatapathTopology.ExtIp, attempts: 3));
        Assert.True(DatapathTopology.Ping(topo.Ext.Name, "10.77.0.3", attempts: 3));
        Assert.Null(dp.Fault);
    }

    [Fact]
    public void DisposeDeletesTheVethPairsItCreated()
    {
        using var topo = new DatapathTopology();
        var nsA = topo.NewNamespace();
        string outer;
        using (var sw = new DatapathSwitch(topo.Host.Name))
        {
            var dp = sw.OpenLower(DatapathTopology.LowerName);
            var a = sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "a" }, nsA.Name, "eth0");
            outer = sw.AttachmentOf(a).OuterName;
            Assert.Contains(outer, topo.Host.Ip("-br", "link"));
        }
        Assert.DoesNotContain(outer, topo.Host.Ip("-br", "link"));
        Assert.DoesNotContain("eth0", nsA.Ip("-br", "link"));
        Assert.Contains(DatapathTopology.LowerName, topo.Host.Ip("-br", "link"));
    }

    [Fact]
    public void TheInterfaceFollowsTheEndpointsMacAndTrafficFollowsBoth()
    {
        using var topo = new DatapathTopology();
        var nsA = topo.NewNamespace();
        using var sw = new DatapathSwitch(topo.Host.Name);
        var dp = sw.OpenLower(DatapathTopology.LowerName);
        var a = sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "a", Mode = EndpointMode.Bridge }, nsA.Name, "eth0");
        Assert.Contains(a.Mac.ToString(), nsA.Ip("link", "show", "eth0"));
        DatapathTopology.Address(nsA, "eth0", 2);
        Assert.True(DatapathTopology.Ping(nsA.Name, DatapathTopology.ExtIp, attempts: 3));

        var mac = TestNet.RandomMac();
        dp.Port.SetMac(a, mac);
        Assert.Contains(mac.ToString(), nsA.Ip("link", "show", "eth0"));
        Assert.True(dp.Lower.FilterState.Promiscuous); // veth: still admitted by promiscuity
        // both neighbours still cache the old address: forget it
        nsA.Ip("neigh", "flush", "all");
        topo.Ext.Ip("neigh", "flush", "all");
        Assert.True(DatapathTopology.Ping(nsA.Name, DatapathTopology.ExtIp, attempts: 3));
        Assert.True(DatapathTopology.Ping(topo.Ext.Name, "10.77.0.2", attempts: 3));
        Assert.Null(dp.Fault);
    }

    [Fact]
    public void APassthruEndpointsMacChangeIsTheLowersToo()
    {
        using var topo = new DatapathTopology();
        var nsA = topo.NewNamespace();
        using var sw = new DatapathSwitch(topo.Host.Name);
        var dp = sw.OpenLower(DatapathTopology.LowerName);
        var p = sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "p", Mode = EndpointMode.Passthru }, nsA.Name, "eth0");
        Assert.Equal(dp.Port.Lower.Mac, p.Mac); // spec 4.4: passthru takes the lower's MAC
        Assert.Contains(p.Mac.ToString(), nsA.Ip("link", "show", "eth0"));
        DatapathTopology.Address(nsA, "eth0", 2);
        Assert.True(DatapathTopology.Ping(topo.Ext.Name, "10.77.0.2", attempts: 3));

        var mac = TestNet.RandomMac();
        dp.Port.SetMac(p, mac);
        Assert.Contains(mac.ToString(), topo.Host.Ip("link", "show", DatapathTopology.LowerName));
        Assert.Contains(mac.ToString(), nsA.Ip("link", "show", "eth0"));
        nsA.Ip("neigh", "flush", "all");
        topo.Ext.Ip("neigh", "flush", "all");
        Assert.True(DatapathTopology.Ping(topo.Ext.Name, "10.77.0.2", attempts: 3));
        Assert.Null(dp.Fault);
    }

    // A veth end whose peer has just come up has its carrier at once but its transmit queue only once the
    // kernel's link watch work has run, which a machine busy with netlink delays by seconds; until then what
    // the datapath delivered into the outer end was dropped silently (its tx_dropped), so a container's
    // first frames went missing where the kernel's macvlan delivers them. The outer end's state is read by
    // a dump, which (unlike an RTM_GETLINK of the device itself) does not run that pending work.
    [Fact]
    public void AnEndpointsOuterEndIsOperationalOnceBringingItUpReturns()
    {
        const byte IfOperUp = 6;
        using var topo = new DatapathTopology();
        var ns = topo.NewNamespace();
        using var sw = new DatapathSwitch(topo.Host.Name);
        var dp = sw.OpenLower(DatapathTopology.LowerName);
        using var rtnl = Rtnetlink.InNamespace(topo.Host.Name);
        string OuterState(Endpoint ep)
        {
            int index = sw.AttachmentOf(ep).OuterIfIndex;
            return rtnl.GetLinks().Single(l => l.Index == index).OperStateName;
        }

        for (int i = 0; i < 4; i++)
        {
            var ep = sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = $"e{i}" }, ns.Name, $"eth{i}");
            Assert.Equal(LinkInfo.OperStateNames[IfOperUp], OuterState(ep));
            dp.Port.SetUp(ep, false);
            dp.Port.SetUp(ep, true);
            Assert.Equal(LinkInfo.OperStateNames[IfOperUp], OuterState(ep));
        }
        Assert.Null(dp.Fault);
    }
}
