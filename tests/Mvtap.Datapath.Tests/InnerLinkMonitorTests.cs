// The monitor of the endpoints' own interfaces (InnerLinkMonitor): it follows an interface into
// the namespace it is moved to, lets go of a removed endpoint, survives the interface's namespace
// being deleted under it (deleting that endpoint, as the kernel would), and pushes endpoint changes made through the port into the interface
// (MTU clamped with the lower, admin state; brought up, its IP stack's groups are in the filter when the
// change returns, as the kernel's macvlan has them). Also the /proc/net/dev_mcast parser.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Datapath;
using Mvtap.Linux;
using Mvtap.Linux.Netlink;

namespace Mvtap.Datapath.Tests;

[Collection("datapath")]
public sealed class InnerLinkMonitorTests
{
    private static readonly MacAddress Group = new(0x01005E0A0B0CUL);

    private static bool Followed(Endpoint ep, Func<Core.Forwarding.EndpointSnapshot, bool> done) =>
        TestNet.WaitFor(() => ep.Port.Table.Find(ep) is { } s && done(s), ok => ok);

    [Fact]
    public void TheMonitorFollowsAnInterfaceMovedToAnotherNamespace()
    {
        using var topo = new DatapathTopology();
        var nsA = topo.NewNamespace();
        var nsB = topo.NewNamespace();
        var log = new List<string>();
        using var sw = new DatapathSwitch(topo.Host.Name, log: line => { lock (log) log.Add(line); });
        var dp = sw.OpenLower(DatapathTopology.LowerName);
        var ep = sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "a" }, nsA.Name, "eth0");

        sw.MoveEndpoint(ep, nsB.Name);
        nsB.Ip("link", "set", "eth0", "up");
        nsB.Ip("maddr", "add", Group.ToString(), "dev", "eth0");
        Assert.True(Followed(ep, s => s.AcceptsGroup(Group)), "a join in the new namespace was not followed");
        nsB.Ip("link", "set", "eth0", "down");
        Assert.True(Followed(ep, s => !s.IsUp), "down in the new namespace was not followed");
        Assert.Null(dp.Fault);
    }

    [Fact]
    public void ARemovedEndpointAndADeletedNamespaceLeaveTheSwitchRunning()
    {
        using var topo = new DatapathTopology();
        var nsA = topo.NewNamespace();
        var nsB = new TestNamespace();
        try
        {
            var log = new List<string>();
            using var sw = new DatapathSwitch(topo.Host.Name, log: line => { lock (log) log.Add(line); });
            var dp = sw.OpenLower(DatapathTopology.LowerName);
            var a = sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "a" }, nsA.Name, "eth0");
            var b = sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "b" }, nsB.Name, "eth0");
            sw.RemoveEndpoint(a);
            // the container goes away with its NIC: the pair is destroyed under the monitor
            nsB.Dispose();
            var c = sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "c" }, nsA.Name, "eth1");
            nsA.Ip("maddr", "add", Group.ToString(), "dev", "eth1");
            Assert.True(Followed(c, s => s.AcceptsGroup(Group)), "a join on a later endpoint was not followed");
            DatapathTopology.Address(nsA, "eth1", 4);
            Assert.True(DatapathTopology.Ping(nsA.Name, DatapathTopology.ExtIp, attempts: 3));
            Assert.Null(dp.Fault);
            // the namespace went with its container, and the NIC with it: as the kernel's macvlan, the endpoint too
            Assert.True(TestNet.WaitFor(() => b.IsDeleted, d => d), string.Join("\n", log));
        }
        finally
        {
            nsB.Dispose();
        }
    }

    [Fact]
    public void PortChangesAreTheInterfacesChanges()
    {
        using var topo = new DatapathTopology();
        var ns = topo.NewNamespace();
        using var sw = new DatapathSwitch(topo.Host.Name);
        var dp = sw.OpenLower(DatapathTopology.LowerName);
        var ep = sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "a" }, ns.Name, "eth0");
        using var rtnl = Rtnetlink.InNamespace(ns.Name);

        // spec 4.3: a lower MTU decrease clamps the endpoint, and with it its interface
        topo.Host.Ip("link", "set", DatapathTopology.LowerName, "mtu", "1400");
        Assert.Equal(1400u, TestNet.WaitFor(() => rtnl.GetLink("eth0")!.Mtu, m => m == 1400));
        Assert.Equal(1400, ep.Mtu);

        dp.Port.SetUp(ep, false);
        Assert.False(rtnl.GetLink("eth0")!.IsUp);
        dp.Port.SetUp(ep, true);
        Assert.True(rtnl.GetLink("eth0")!.IsUp);
        Assert.Equal(0, sw.AttachmentOf(ep).RefusedInnerChanges);
    }

    [Fact]
    public void AnInterfaceBroughtUpByTheSwitchHasItsStacksGroupsInTheFilterWhenTheChangeReturns()
    {
        using var topo = new DatapathTopology();
        var ns = topo.NewNamespace();
        var nsKernel = topo.NewNamespace();
        using var sw = new DatapathSwitch(topo.Host.Name);
        var dp = sw.OpenLower(DatapathTopology.LowerName);
        var ep = sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "a" }, ns.Name, "eth0", up: false);
        // the kernel's macvlan joins these inside dev_open: its filter has them before `ip link set up` returns
        topo.Host.Ip("link", "add", "link", DatapathTopology.LowerName, "name", "kmv0", "type", "macvlan", "mode", "bridge");
        topo.Host.Ip("link", "set", "kmv0", "netns", nsKernel.Name);
        nsKernel.Ip("link", "set", "kmv0", "up");
        int kernelIndex = NetNamespace.Run(nsKernel.Name, () => { using var r = new Rtnetlink(); return r.GetLink("kmv0")!.Index; });
        var kernelGroups = NetNamespace.Run(nsKernel.Name, () =>
        {
            using var list = LinkMulticastList.OpenCurrent();
            return list.Read(kernelIndex);
        });
        Assert.Contains(AllHosts, kernelGroups);

        dp.Port.SetUp(ep, true);
        // no wait: the frame right after the change must find them
        var filter = ep.Port.Table.Find(ep);
        Assert.NotNull(filter);
        // solicited-node groups (33:33:ff:…) follow each device's own addresses: not the same on both
        foreach (var g in kernelGroups.Where(g => g.IsMulticast && g.Value >> 24 != 0x3333FFUL))
            Assert.True(filter.AcceptsGroup(g), $"{g}, which the kernel's macvlan has on coming up, is not in the filter yet (up: {ep.IsUp})");
    }

    private static readonly MacAddress AllHosts = new(0x01005E000001UL);

    [Fact]
    public void DevMcastLinesOfOneInterfaceAreParsed()
    {
        const string text =
            "1    lo              1     0     01005e000001\n" +
            "2    eth0            1     0     333300000001\n" +
            "2    eth0            2     1     01005e0a0b0c\n" +
            "2    eth0            1     0     0102\n" +
            "garbage\n" +
            "3    eth1            1     0     333300000002\n";
        var groups = new List<MacAddress>();
        LinkMulticastList.Parse(text, 2, groups);
        Assert.Equal([new MacAddress(0x333300000001UL), Group], groups);
    }
}

// A container runtime renames the NIC after moving it in (CNI plugins create it under a temporary
// name and call it eth0 inside): the endpoint's interface is the same device under a new name.
[Collection("datapath")]
public sealed class InnerInterfaceRenameTests
{
    [Fact]
    public void AnInterfaceRenamedInItsNamespaceIsStillTheEndpointsInterface()
    {
        using var topo = new DatapathTopology();
        var ns = topo.NewNamespace();
        var log = new List<string>();
        using var sw = new DatapathSwitch(topo.Host.Name, log: line => { lock (log) log.Add(line); });
        var dp = sw.OpenLower(DatapathTopology.LowerName);
        var ep = sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "tmp7f3a" }, ns.Name, "tmp7f3a", up: false);
        var attachment = sw.AttachmentOf(ep);

        ns.Ip("link", "set", "dev", "tmp7f3a", "name", "eth0"); // a down interface may be renamed
        Assert.True(TestNet.WaitFor(() => attachment.InnerName, n => n == "eth0") == "eth0", string.Join("\n", log));

        // the port's changes reach the renamed interface: up, and a new MAC
        var mac = TestNet.RandomMac();
        dp.Port.SetUp(ep, true);
        dp.Port.SetMac(ep, mac);
        using var rtnl = Rtnetlink.InNamespace(ns.Name);
        Assert.True(TestNet.WaitFor(() => rtnl.GetLink("eth0"), l => l is { IsUp: true } && l.Address == mac) is { IsUp: true },
            "the renamed interface did not follow the endpoint");
        DatapathTopology.Address(ns, "eth0", 5);
        Assert.True(DatapathTopology.Ping(ns.Name, DatapathTopology.ExtIp, attempts: 3));
        Assert.DoesNotContain(log, l => l.Contains("cannot follow", StringComparison.Ordinal));
        Assert.Null(dp.Fault);
    }

    [Fact]
    public void ARestartedSwitchAdoptsThePairUnderItsNewName()
    {
        using var topo = new DatapathTopology();
        var ns = topo.NewNamespace();
        var mac = TestNet.RandomMac();
        var settings = new EndpointSettings { Name = "tmp91c2", Mac = mac };
        string outer;
        using (var first = new DatapathSwitch(topo.Host.Name, keepInterfaces: true))
        {
            var dp = first.OpenLower(DatapathTopology.LowerName);
            var ep = first.AddMacvlanEndpoint(dp, settings, ns.Name, "tmp91c2", up: false);
            outer = first.AttachmentOf(ep).OuterName;
            ns.Ip("link", "set", "dev", "tmp91c2", "name", "eth0");
        }

        // the next run knows the endpoint by its name and MAC only (what mvtapd saves)
        using var second = new DatapathSwitch(topo.Host.Name, keepInterfaces: true);
        var dp2 = second.OpenLower(DatapathTopology.LowerName);
        var again = second.AddMacvlanEndpoint(dp2, settings, ns.Name, "tmp91c2", up: true, adopt: true);
        var adopted = second.AttachmentOf(again);
        Assert.Equal(outer, adopted.OuterName);
        Assert.Equal("eth0", adopted.InnerName);
        using var rtnl = Rtnetlink.InNamespace(ns.Name);
        Assert.Null(rtnl.GetLink("tmp91c2")); // no second NIC made for it
        DatapathTopology.Address(ns, "eth0", 6);
        Assert.True(DatapathTopology.Ping(ns.Name, DatapathTopology.ExtIp, attempts: 3));
        second.RemoveEndpoint(again);
    }
}
