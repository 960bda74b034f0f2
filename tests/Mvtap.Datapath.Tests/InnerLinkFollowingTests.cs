// Following an endpoint's NIC without a gap (issue 11): moves made by mvtap in quick succession, a NIC
// the container moves on to another namespace, renames on the way.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Datapath;
using Mvtap.Linux;
using Mvtap.Linux.Netlink;

namespace Mvtap.Datapath.Tests;

[Collection("datapath")]
public sealed class InnerLinkFollowingTests
{
    private static MacAddress GroupOf(int i) => new(0x01005E0A0000UL | (uint)i);

    private static bool Followed(Endpoint ep, Func<Core.Forwarding.EndpointSnapshot, bool> done) =>
        TestNet.WaitFor(() => ep.Port.Table.Find(ep) is { } s && done(s), ok => ok);

    [Fact]
    public void EndpointsMovedAndUppedInARowAllFollowJoinsMadeRightAfter()
    {
        using var topo = new DatapathTopology();
        var log = new List<string>();
        using var sw = new DatapathSwitch(topo.Host.Name, log: line => { lock (log) log.Add(line); });
        var dp = sw.OpenLower(DatapathTopology.LowerName);
        const int count = 12;
        var eps = new List<(Endpoint Ep, TestNamespace Ns, string If)>();
        for (int i = 0; i < count; i++)
        {
            var ns = topo.NewNamespace();
            string name = $"e{i}";
            // as mvtapd does: made next to the outer end, moved, then up
            var ep = sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = name }, null, name, up: false);
            // the container has an interface at the NIC's index already: the move gives it another
            ns.Ip("link", "add", "x" + name, "index", sw.AttachmentOf(ep).InnerIfIndex.ToString(), "type", "veth", "peer", "name", "y" + name);
            sw.MoveEndpoint(ep, ns.Name);
            dp.Port.SetUp(ep, true);
            ns.Ip("maddr", "add", GroupOf(i).ToString(), "dev", name);
            eps.Add((ep, ns, name));
        }
        for (int i = 0; i < count; i++)
            Assert.True(Followed(eps[i].Ep, s => s.AcceptsGroup(GroupOf(i))),
                $"{eps[i].If}'s join was not followed:\n{string.Join("\n", log)}");
        Assert.Null(dp.Fault);
    }

    [Fact]
    public void ANicRenamedTheMomentItArrivesAsCniPluginsDoIsFollowed()
    {
        using var topo = new DatapathTopology();
        var log = new List<string>();
        using var sw = new DatapathSwitch(topo.Host.Name, log: line => { lock (log) log.Add(line); });
        var dp = sw.OpenLower(DatapathTopology.LowerName);
        const int count = 8;
        var eps = new List<(Endpoint Ep, TestNamespace Ns)>();
        for (int i = 0; i < count; i++)
        {
            var ns = topo.NewNamespace();
            string temp = $"tmp{i}";
            var ep = sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = temp }, null, temp, up: false);
            // the plugin, inside the container: eth0 and up as soon as the NIC is there
            using var renamed = new ManualResetEventSlim();
            var plugin = new Thread(() =>
            {
                using var rtnl = Rtnetlink.InNamespace(ns.Name);
                var deadline = DateTime.UtcNow.AddSeconds(10);
                while (DateTime.UtcNow < deadline)
                {
                    if (rtnl.GetLink(temp) is { } link)
                    {
                        rtnl.SetLink(new LinkRequest { Index = link.Index, Name = "eth0" });
                        rtnl.SetLink(new LinkRequest { Index = link.Index, Up = true });
                        break;
                    }
                }
                renamed.Set();
            });
            plugin.Start();
            sw.MoveEndpoint(ep, ns.Name);
            Assert.True(renamed.Wait(15_000));
            plugin.Join();
            ns.Ip("maddr", "add", GroupOf(i).ToString(), "dev", "eth0");
            eps.Add((ep, ns));
        }
        for (int i = 0; i < count; i++)
        {
            Assert.True(Followed(eps[i].Ep, s => s.IsUp && s.AcceptsGroup(GroupOf(i))),
                $"tmp{i} (now eth0) was not followed:\n{string.Join("\n", log)}");
            Assert.Equal("eth0", sw.AttachmentOf(eps[i].Ep).InnerName);
        }
        Assert.Null(dp.Fault);
    }

    [Fact]
    public void ANicTheContainerMovesOnIsFollowedIntoItsNewNamespace()
    {
        using var topo = new DatapathTopology();
        var nsA = topo.NewNamespace();
        var nsB = topo.NewNamespace();
        var log = new List<string>();
        using var sw = new DatapathSwitch(topo.Host.Name, log: line => { lock (log) log.Add(line); });
        var dp = sw.OpenLower(DatapathTopology.LowerName);
        var ep = sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "a" }, nsA.Name, "eth0");

        nsA.Ip("link", "set", "eth0", "netns", nsB.Name);
        nsB.Ip("link", "set", "eth0", "up");
        nsB.Ip("maddr", "add", GroupOf(1).ToString(), "dev", "eth0");
        Assert.True(Followed(ep, s => s.AcceptsGroup(GroupOf(1))), $"a join in the namespace it was moved on to was not followed:\n{string.Join("\n", log)}");
        nsB.Ip("link", "set", "eth0", "down");
        Assert.True(Followed(ep, s => !s.IsUp), "down in the new namespace was not followed");
        Assert.False(ep.IsDeleted);
        Assert.Null(dp.Fault);
    }

    [Fact]
    public void AllmultiTakenByAPacketSocketInsideIsFollowedThoughNoNotificationSaysSo()
    {
        using var topo = new DatapathTopology();
        var ns = topo.NewNamespace();
        using var sw = new DatapathSwitch(topo.Host.Name, log: _ => { });
        var dp = sw.OpenLower(DatapathTopology.LowerName);
        var ep = sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "a" }, ns.Name, "eth0");
        var unjoined = GroupOf(77);
        using (var rtnl = Rtnetlink.InNamespace(ns.Name))
        {
            int index = rtnl.GetLink("eth0")!.Index;
            // as a sniffer inside the container does: the device's allmulti count, no rtnetlink message
            using var sniffer = NetNamespace.Run(ns.Name, () => new PacketSocket(index));
            sniffer.SetAllmulti(true);
            Assert.True(Followed(ep, s => s.AcceptsGroup(unjoined)), "ALLMULTI taken inside was not followed");
        }
        Assert.True(Followed(ep, s => !s.AcceptsGroup(unjoined)), "ALLMULTI let go of inside was not followed");
    }
}
