// A container that deletes its NIC deletes the endpoint (issue 10), as the kernel deletes a macvlan
// whose device is deleted: out of its port (its MAC free again), the pair gone, the switch's owner
// told. A NIC only moved on to another namespace is not deleted but followed there, also across a
// restart of the switch (adopted where the container took it).
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Datapath;
using Mvtap.Linux.Netlink;

namespace Mvtap.Datapath.Tests;

[Collection("datapath")]
public sealed class InnerInterfaceDeletionTests
{
    private static readonly MacAddress Group = new(0x01005E0A0B0DUL);

    [Fact]
    public void ANicDeletedInsideItsContainerDeletesItsEndpointAndFreesItsMac()
    {
        using var topo = new DatapathTopology();
        var ns = topo.NewNamespace();
        var log = new List<string>();
        using var sw = new DatapathSwitch(topo.Host.Name, log: line => { lock (log) log.Add(line); });
        var deleted = new List<(Endpoint, string)>();
        sw.MacvlanEndpointDeleted += (ep, line) => { lock (deleted) deleted.Add((ep, line)); };
        var dp = sw.OpenLower(DatapathTopology.LowerName);
        var mac = TestNet.RandomMac();
        var ep = sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "a", Mac = mac }, ns.Name, "eth0");
        string outer = sw.AttachmentOf(ep).OuterName;

        ns.Ip("link", "del", "eth0");
        Assert.True(TestNet.WaitFor(() => ep.IsDeleted, d => d), string.Join("\n", log));
        Assert.Equal(1, TestNet.WaitFor(() => { lock (deleted) return deleted.Count; }, n => n == 1));
        Assert.Equal($"a: its interface eth0 was deleted in namespace {ns.Name}; endpoint deleted", deleted[0].Item2);
        Assert.DoesNotContain(ep, dp.Port.Endpoints);
        using (var host = Rtnetlink.InNamespace(topo.Host.Name)) Assert.Null(host.GetLink(outer));
        Assert.Throws<MvtapException>(() => sw.AttachmentOf(ep));

        // its MAC is free: another endpoint takes it and comes up (a claimed MAC would be EADDRINUSE)
        var again = sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "b", Mac = mac }, ns.Name, "eth0");
        Assert.True(again.IsUp);
        DatapathTopology.Address(ns, "eth0", 7);
        Assert.True(DatapathTopology.Ping(ns.Name, DatapathTopology.ExtIp, attempts: 3));
        Assert.Null(dp.Fault);
    }

    [Fact]
    public void ANicMovedOnIsNotDeletedAndIsDeletedWhenItsNewNamespaceGoes()
    {
        using var topo = new DatapathTopology();
        var nsA = topo.NewNamespace();
        var nsB = new TestNamespace();
        try
        {
            var log = new List<string>();
            using var sw = new DatapathSwitch(topo.Host.Name, log: line => { lock (log) log.Add(line); });
            var moved = new List<string?>();
            sw.MacvlanInterfaceMoved += (_, name) => { lock (moved) moved.Add(name); };
            var dp = sw.OpenLower(DatapathTopology.LowerName);
            var ep = sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "a" }, nsA.Name, "eth0");

            nsA.Ip("link", "set", "eth0", "netns", nsB.Name);
            nsB.Ip("link", "set", "eth0", "name", "net1");
            nsB.Ip("maddr", "add", Group.ToString(), "dev", "net1");
            Assert.True(TestNet.WaitFor(() => ep.Port.Table.Find(ep) is { } s && s.AcceptsGroup(Group), ok => ok), string.Join("\n", log));
            Assert.False(ep.IsDeleted);
            Assert.Equal("net1", sw.AttachmentOf(ep).InnerName);
            Assert.Equal(nsB.Name, sw.AttachmentOf(ep).InnerNamespace);
            Assert.Equal([nsB.Name], TestNet.WaitFor(() => { lock (moved) return moved.ToList(); }, m => m.Count == 1));

            nsB.Dispose(); // the container goes, its namespace with it: the NIC, the pair and the endpoint too
            Assert.True(TestNet.WaitFor(() => ep.IsDeleted, d => d), string.Join("\n", log));
            // which is seen first, the namespace's going or its devices' deletion, is the kernel's timing
            Assert.Contains(log, l => l.StartsWith($"a: its interface net1 went with namespace {nsB.Name}", StringComparison.Ordinal)
                                      || l.StartsWith($"a: its interface net1 was deleted in the namespace", StringComparison.Ordinal));
            Assert.Null(dp.Fault);
        }
        finally
        {
            nsB.Dispose();
        }
    }

    [Fact]
    public void ARestartedSwitchAdoptsANicItsContainerMovedOnMeanwhile()
    {
        using var topo = new DatapathTopology();
        var nsA = topo.NewNamespace();
        var nsB = topo.NewNamespace();
        var mac = TestNet.RandomMac();
        var settings = new EndpointSettings { Name = "a", Mac = mac };
        using (var first = new DatapathSwitch(topo.Host.Name, keepInterfaces: true))
        {
            var dp = first.OpenLower(DatapathTopology.LowerName);
            first.AddMacvlanEndpoint(dp, settings, nsA.Name, "eth0", up: false);
        }
        nsA.Ip("link", "set", "eth0", "netns", nsB.Name);

        // the next run knows the endpoint as it was saved: name, MAC, namespace A
        using var second = new DatapathSwitch(topo.Host.Name, keepInterfaces: true);
        var dp2 = second.OpenLower(DatapathTopology.LowerName);
        var ep = second.AddMacvlanEndpoint(dp2, settings, nsA.Name, "eth0", up: true, adopt: true);
        using (var a = Rtnetlink.InNamespace(nsA.Name)) Assert.Null(a.GetLink("eth0")); // no NIC made again where it was
        Assert.Equal(nsB.Name, second.AttachmentOf(ep).InnerNamespace);
        nsB.Ip("maddr", "add", Group.ToString(), "dev", "eth0");
        Assert.True(TestNet.WaitFor(() => ep.Port.Table.Find(ep) is { } s && s.AcceptsGroup(Group), ok => ok));
        DatapathTopology.Address(nsB, "eth0", 8);
        Assert.True(DatapathTopology.Ping(nsB.Name, DatapathTopology.ExtIp, attempts: 3));
        second.RemoveEndpoint(ep);
    }
}
