// What a container does to its own NIC, kernel macvlan vs mvtap (issue 3): the same `ip` commands
// run inside the endpoints' namespace on the kernel's macvlan device and on mvtap's inner veth end,
// then the same crafted frames are injected and every observation point compared (DifferentialTopology).
// With the kernel the device IS the endpoint; mvtap follows the inner end (InnerLinkMonitor), so the
// mvtap run first waits (bounded) until its port shows the change, then observes.
// Where the kernel refuses a change (a busy MAC, an MTU above the lower's, up with a busy MAC) the
// veth cannot; mvtap puts the interface back and counts the refusal (InnerLinkFollower): the test
// checks that the kernel refused and that both end in the same state, delivering the same frames.
using Mvtap.Core.Forwarding;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Linux.Netlink;
using static Mvtap.Datapath.Tests.E2e.DifferentialTopology;

namespace Mvtap.Datapath.Tests.E2e;

[Collection("e2e-inner")]
public sealed class E2eInnerInterfaceTests
{
    private static readonly MacAddress NewMac = E2eFrames.Mac(4, 1);

    /// <summary>For mvtap: waits (bounded) until the published forwarding table shows the endpoint of
    /// <paramref name="role"/> satisfying <paramref name="followed"/>, i.e. the monitor has seen the change and
    /// the datapath forwards with it (the Endpoint object changes a moment before its table is published);
    /// the kernel's change is in effect when `ip` returns.</summary>
    private static void AwaitFollowed(DifferentialTopology t, string role, Func<EndpointSnapshot, bool> followed, string what)
    {
        if (t.IsKernel) return;
        var ep = t.MvtapEndpoint(role);
        Assert.True(TestNet.WaitFor(() => ep.Port.Table.Find(ep) is { } s && followed(s), ok => ok),
            $"mvtap's endpoint {role} did not follow {what} within 5 s");
    }

    /// <summary>Waits (bounded) until <paramref name="role"/>'s interface is operationally up, and for mvtap the
    /// outer end of its pair too (see DifferentialTopology.AwaitOperational).</summary>
    private static void AwaitOperational(DifferentialTopology t, string role) =>
        Assert.True(t.AwaitOperational(role), $"{role} did not become operational within 5 s");

    private static MacAddress InterfaceMac(DifferentialTopology t, string role)
    {
        using var rtnl = Rtnetlink.InNamespace(t.Eps.Name);
        return rtnl.GetLink(role)!.Address!.Value;
    }

    private static int InterfaceMtu(DifferentialTopology t, string role)
    {
        using var rtnl = Rtnetlink.InNamespace(t.Eps.Name);
        return (int)rtnl.GetLink(role)!.Mtu;
    }

    private static long Refused(DifferentialTopology t, string role) =>
        t.Switch!.AttachmentOf(t.MvtapEndpoint(role)).RefusedInnerChanges;

    private static (string Down, string Up) DownThenUp(bool kernel)
    {
        using var t = new DifferentialTopology(kernel);
        t.Add("V");
        t.Add("B");
        t.Eps.Ip("link", "set", "V", "down");
        AwaitFollowed(t, "V", ep => !ep.IsUp, "link down");
        long rxBefore = kernel ? 0 : t.MvtapEndpoint("V").Counters.RxPackets;
        var down = t.Observe(2, () =>
        {
            t.FromWire("toV", t.MacOf("V"), External);
            t.FromWire("toB", t.MacOf("B"), External);
        });
        // spec 3.3 / R04: unicast to a down endpoint is passed to the lower, never counted as delivered
        if (!kernel) Assert.Equal(rxBefore, t.MvtapEndpoint("V").Counters.RxPackets);
        t.Eps.Ip("link", "set", "V", "up");
        AwaitFollowed(t, "V", ep => ep.IsUp, "link up");
        AwaitOperational(t, "V");
        var up = t.Observe(2, () =>
        {
            t.FromWire("toV", t.MacOf("V"), External);
            t.FromWire("toB", t.MacOf("B"), External);
        });
        return (down.Summary(), up.Summary());
    }

    [Fact]
    public void LinkDownInsideTheContainerPassesItsFramesToTheLowerAndUpDeliversThemAgain()
    {
        var kernel = DownThenUp(kernel: true);
        Assert.Equal(("V=- B=toB wire=- lower=1", "V=toV B=toB wire=- lower=0"), kernel);
        Assert.Equal(kernel, DownThenUp(kernel: false));
    }

    /// <summary>
    /// On the kernel side, a group that no endpoint's filter accepts now. The kernel's per-endpoint filter is
    /// a 256-bit hash salted per device (spec 1.5, quirk Q7) and every endpoint has joined groups of its own
    /// (224.0.0.1, IPv6 all-nodes and solicited-node), so a fixed "unjoined" group reaches a bystander by
    /// collision now and then (seen in CI: B received it). Probing first makes the test about membership;
    /// mvtap, whose filter is exact, is given the same groups.
    /// </summary>
    private static MacAddress PickUnacceptedGroup(DifferentialTopology t, ulong first)
    {
        for (ulong i = 0; i < 32; i++)
        {
            var group = new MacAddress(first + i);
            var o = t.Observe(1, () => t.Probe(group));
            if (o.Seen.All(kv => kv.Value.Count == 0)) return group;
        }
        throw new InvalidOperationException("no group among 32 that no kernel endpoint's hash filter accepts");
    }

    private static (string Joined, string Left, string Refreshed, MacAddress Group, MacAddress Other) JoinThenLeave(
        bool kernel, MacAddress? givenGroup = null, MacAddress? givenOther = null)
    {
        using var t = new DifferentialTopology(kernel);
        t.Add("V");
        t.Add("B");
        var group = givenGroup ?? PickUnacceptedGroup(t, 0x01005E010203UL);
        t.Eps.Ip("maddr", "add", group.ToString(), "dev", "V");
        AwaitFollowed(t, "V", ep => ep.AcceptsGroup(group), "ip maddr add");
        var joined = t.Observe(1, () => t.FromWire("group", group, External));
        // picked while V holds the first group: its bucket then differs from the first group's in V's filter
        var other = givenOther ?? PickUnacceptedGroup(t, 0x01005E070809UL);
        t.Eps.Ip("maddr", "del", group.ToString(), "dev", "V");
        AwaitFollowed(t, "V", ep => !ep.AcceptsGroup(group), "ip maddr del");
        var left = t.Observe(1, () => t.FromWire("group", group, External));
        // any later rx-mode change of the device recomputes the kernel's filter (see the test)
        t.Eps.Ip("maddr", "add", other.ToString(), "dev", "V");
        AwaitFollowed(t, "V", ep => ep.AcceptsGroup(other), "a second ip maddr add");
        var refreshed = t.Observe(2, () =>
        {
            t.FromWire("group", group, External);
            t.FromWire("other", other, External);
        });
        return (joined.Summary(), left.Summary(), refreshed.Summary(), group, other);
    }

    // Kernel quirk found here (6.18): right after `ip maddr del` the kernel's endpoint still receives
    // the group. macvlan_set_mac_lists computes the endpoint's filter before dev_mc_sync() unsyncs
    // the deleted address from the endpoint's list (the entry lingers with the lower's reference until
    // then), so the filter keeps the group until the device's next rx-mode change. mvtap's filter is
    // exact (spec 1.5 / quirk Q7) and drops the group at once: a deliberate difference, asserted here;
    // after the next rx-mode change both agree again.
    [Fact]
    public void IpMaddrInsideTheContainerIsTheEndpointsMulticastFilter()
    {
        var kernel = JoinThenLeave(kernel: true);
        Assert.Equal(("V=group B=- wire=- lower=1", "V=group B=- wire=- lower=1", "V=other B=- wire=- lower=2"),
            (kernel.Joined, kernel.Left, kernel.Refreshed));
        var mvtap = JoinThenLeave(kernel: false, kernel.Group, kernel.Other);
        Assert.Equal(kernel.Joined, mvtap.Joined);
        Assert.Equal("V=- B=- wire=- lower=1", mvtap.Left);
        Assert.Equal(kernel.Refreshed, mvtap.Refreshed);
    }

    private static string ChangeMac(bool kernel)
    {
        using var t = new DifferentialTopology(kernel);
        t.Add("V");
        var old = t.MacOf("V");
        t.Eps.Ip("link", "set", "V", "address", NewMac.ToString());
        AwaitFollowed(t, "V", ep => ep.Mac == NewMac, "the new address");
        return t.Observe(2, () =>
        {
            t.FromWire("toNew", NewMac, External);
            t.FromWire("toOld", old, External);
        }).Summary();
    }

    [Fact]
    public void MacChangedInsideTheContainerMovesDeliveryToTheNewAddress()
    {
        var kernel = ChangeMac(kernel: true);
        // spec A05: the new MAC receives, the old one is passed to the lower
        Assert.Equal("V=toNew wire=- lower=1", kernel);
        Assert.Equal(kernel, ChangeMac(kernel: false));
    }

    private static string BusyMacAndTooLargeMtu(bool kernel)
    {
        using var t = new DifferentialTopology(kernel);
        t.Add("V");
        t.Add("V2");
        var v2 = t.MacOf("V2");
        if (kernel)
        {
            // spec 4.1 / A03: the kernel refuses an up peer's MAC; spec 4.3 / A08: an MTU above the lower's
            var busy = Assert.Throws<InvalidOperationException>(() => t.Eps.Ip("link", "set", "V2", "address", t.MacOf("V").ToString()));
            Assert.Contains("Address already in use", busy.Message);
            Assert.Throws<InvalidOperationException>(() => t.Eps.Ip("link", "set", "V2", "mtu", "9000"));
        }
        else
        {
            // the veth takes both; mvtap puts them back, as the kernel would have refused them
            t.Eps.Ip("link", "set", "V2", "address", t.MacOf("V").ToString());
            Assert.True(TestNet.WaitFor(() => Refused(t, "V2"), n => n >= 1) >= 1, "the busy MAC was not refused within 5 s");
            Assert.Equal(v2, TestNet.WaitFor(() => InterfaceMac(t, "V2"), m => m == v2));
            t.Eps.Ip("link", "set", "V2", "mtu", "9000");
            Assert.True(TestNet.WaitFor(() => Refused(t, "V2"), n => n >= 2) >= 2, "the MTU was not refused within 5 s");
            Assert.Equal(1500, TestNet.WaitFor(() => InterfaceMtu(t, "V2"), m => m == 1500));
            Assert.Equal(v2, t.MvtapEndpoint("V2").Mac);
            Assert.Equal(1500, t.MvtapEndpoint("V2").Mtu);
        }
        Assert.Equal(v2, InterfaceMac(t, "V2"));
        Assert.Equal(1500, InterfaceMtu(t, "V2"));
        return t.Observe(2, () =>
        {
            t.FromWire("toV", t.MacOf("V"), External);
            t.FromWire("toV2", v2, External);
        }).Summary();
    }

    [Fact]
    public void ABusyMacOrAnMtuAboveTheLowersSetInsideTheContainerIsPutBackAsTheKernelRefusesIt()
    {
        var kernel = BusyMacAndTooLargeMtu(kernel: true);
        Assert.Equal("V=toV V2=toV2 wire=- lower=0", kernel);
        Assert.Equal(kernel, BusyMacAndTooLargeMtu(kernel: false));
    }

    private static string UpWithABusyMac(bool kernel)
    {
        using var t = new DifferentialTopology(kernel);
        t.Add("V");
        t.Add("V2");
        var v = t.MacOf("V");
        t.Eps.Ip("link", "set", "V", "down");
        AwaitFollowed(t, "V", ep => !ep.IsUp, "link down");
        // spec A03: a down peer's MAC is allowed ...
        t.Eps.Ip("link", "set", "V2", "address", v.ToString());
        AwaitFollowed(t, "V2", ep => ep.Mac == v, "the down peer's address");
        // ... but bringing that peer up then collides (spec 4.1 open: EADDRINUSE)
        if (kernel) Assert.Throws<InvalidOperationException>(() => t.Eps.Ip("link", "set", "V", "up"));
        else
        {
            t.Eps.Ip("link", "set", "V", "up");
            Assert.True(TestNet.WaitFor(() => Refused(t, "V"), n => n >= 1) >= 1, "up with a busy MAC was not refused within 5 s");
            Assert.False(t.MvtapEndpoint("V").IsUp);
        }
        using (var rtnl = Rtnetlink.InNamespace(t.Eps.Name))
            Assert.False(TestNet.WaitFor(() => rtnl.GetLink("V")!.IsUp, up => !up), "V's interface stayed up");
        return t.Observe(1, () => t.FromWire("toV", v, External)).Summary();
    }

    [Fact]
    public void UpInsideTheContainerWithABusyMacIsPutBackDownAsTheKernelRefusesIt()
    {
        var kernel = UpWithABusyMac(kernel: true);
        Assert.Equal("V=- V2=toV wire=- lower=0", kernel);
        Assert.Equal(kernel, UpWithABusyMac(kernel: false));
    }
}
