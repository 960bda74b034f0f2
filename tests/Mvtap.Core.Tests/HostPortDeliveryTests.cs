// The host port's delivery table (issue 14, design.md): for a guest endpoint in each mode, with
// hostaccess on and off and the switch hairpinning or not, what the host port H and the guest G
// get of unicast and broadcast each way, and what goes to the wire. The expected side is written
// from the issue's rules (on: local both ways whatever the mode; off: H is a bridge endpoint and
// the kernel's spec 2/3.3/3.4 decide), independently of the forwarder's code. Also the
// configuration rules: one host port per lower, none beside passthru, no mode of its own.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Core.Sim;
using static Mvtap.Core.Tests.Frames;

namespace Mvtap.Core.Tests;

public class HostPortDeliveryTests
{
    public enum Flow { HostToGuest, GuestToHost, HostBroadcast, GuestBroadcast }

    private static readonly MacAddress HostMac = Mac("1a:00:00:00:00:0f");
    private static readonly MacAddress GuestMac = Mac("1a:00:00:00:00:0a");

    public static TheoryData<EndpointMode, bool, bool> Cases()
    {
        var data = new TheoryData<EndpointMode, bool, bool>();
        foreach (var m in new[] { EndpointMode.Private, EndpointMode.Vepa, EndpointMode.Bridge, EndpointMode.Source })
            foreach (var access in new[] { true, false })
                foreach (var hairpin in new[] { false, true }) data.Add(m, access, hairpin);
        return data;
    }

    private sealed record Expect(int Guest, int Host, int Wire);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Host_port_deliveries_follow_hostaccess_and_otherwise_the_kernels_rules(EndpointMode mode, bool hostAccess, bool hairpin)
    {
        var failures = new List<string>();
        foreach (var flow in Enum.GetValues<Flow>())
        {
            var net = new SimNetwork(hairpin);
            net.AddExternalHost("ext", Ext);
            var h = net.AddEndpoint(new EndpointSettings { Name = "mvhost0", IsHostPort = true, Mac = HostMac });
            var g = net.AddEndpoint(new EndpointSettings { Name = "G", Mode = mode, Mac = GuestMac, HostAccess = hostAccess });
            var (from, dst) = flow switch
            {
                Flow.HostToGuest => (h, GuestMac),
                Flow.GuestToHost => (g, HostMac),
                Flow.HostBroadcast => (h, MacAddress.Broadcast),
                _ => (g, MacAddress.Broadcast),
            };
            net.ClearInboxes();
            from.Send(Make(dst, from.Mac));
            var got = new Expect(flow == Flow.GuestBroadcast ? 0 : g.Inbox.Count, flow == Flow.HostBroadcast ? 0 : h.Inbox.Count, net.Wire.Count);
            var want = Expected(mode, hostAccess, hairpin, flow);
            if (got != want) failures.Add($"{flow}: expected {want} but got {got}");
        }
        Assert.True(failures.Count == 0, $"{mode} hostaccess={(hostAccess ? "on" : "off")} hairpin={hairpin}:\n" + string.Join("\n", failures));
    }

    // The issue's rules. The sender's own copy is not counted (spec 3.4 covers reflections to it).
    private static Expect Expected(EndpointMode mode, bool hostAccess, bool hairpin, Flow flow)
    {
        bool bridge = mode == EndpointMode.Bridge;
        if (hostAccess)
            return flow switch
            {
                Flow.HostToGuest => new(1, 0, 0), // local whatever the mode, never on the wire
                Flow.GuestToHost => new(0, 1, 0),
                Flow.HostBroadcast => new(1, 0, 1), // every endpoint and the wire, once
                _ => new(0, 1, 1),
            };
        // hostaccess off: H is a bridge endpoint (spec 2, 3.3, 3.4)
        return flow switch
        {
            Flow.HostToGuest => bridge ? new(1, 0, 0) : new(hairpin && mode != EndpointMode.Source ? 1 : 0, 0, 1),
            Flow.GuestToHost => bridge ? new(0, 1, 0) : new(0, hairpin ? 1 : 0, 1),
            Flow.HostBroadcast => new(bridge || (hairpin && mode == EndpointMode.Vepa) ? 1 : 0, 0, 1),
            _ => new(0, bridge || (hairpin && mode == EndpointMode.Vepa) ? 1 : 0, 1),
        };
    }

    [Fact]
    public void A_lower_takes_one_host_port()
    {
        var net = new SimNetwork();
        net.AddEndpoint(new EndpointSettings { Name = "mvhost0", IsHostPort = true });
        var e = Assert.Throws<MvtapException>(() => net.Port.Create(new EndpointSettings { Name = "mvhost1", IsHostPort = true }));
        Assert.Equal(Errno.EBUSY, e.Errno);
        Assert.Contains("mvhost0", e.Message);
    }

    [Fact]
    public void Passthru_and_a_host_port_exclude_each_other_on_one_lower()
    {
        var net = new SimNetwork();
        net.AddEndpoint(new EndpointSettings { Name = "mvhost0", IsHostPort = true });
        var e = Assert.Throws<MvtapException>(() => net.Port.Create(new EndpointSettings { Name = "pt", Mode = EndpointMode.Passthru }));
        Assert.Equal(Errno.EBUSY, e.Errno);
        Assert.Contains("host port", e.Message);

        var other = new SimNetwork();
        other.AddEndpoint(new EndpointSettings { Name = "pt", Mode = EndpointMode.Passthru });
        var e2 = Assert.Throws<MvtapException>(() => other.Port.Create(new EndpointSettings { Name = "mvhost0", IsHostPort = true }));
        Assert.Equal(Errno.EINVAL, e2.Errno);
        Assert.Contains("passthru", e2.Message);
    }

    [Fact]
    public void The_host_port_is_a_bridge_port_whose_mode_and_hostaccess_do_not_change()
    {
        var net = new SimNetwork();
        var h = net.AddEndpoint(new EndpointSettings { Name = "mvhost0", IsHostPort = true, Mode = EndpointMode.Private }).Endpoint!;
        Assert.Equal(EndpointMode.Bridge, h.Mode);
        Assert.Equal(Errno.EOPNOTSUPP, Assert.Throws<MvtapException>(() => net.Port.SetMode(h, EndpointMode.Vepa)).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<MvtapException>(() => net.Port.Change(h, new EndpointChange { HostAccess = false })).Errno);
    }

    [Fact]
    public void Turning_hostaccess_off_and_on_again_takes_effect_at_once()
    {
        var net = new SimNetwork(hairpin: false);
        var h = net.AddEndpoint(new EndpointSettings { Name = "mvhost0", IsHostPort = true, Mac = HostMac });
        var g = net.AddEndpoint(new EndpointSettings { Name = "G", Mode = EndpointMode.Vepa, Mac = GuestMac });
        net.Port.Change(g.Endpoint!, new EndpointChange { HostAccess = false });
        h.Send(Make(GuestMac, HostMac));
        Assert.Empty(g.Inbox);
        net.Port.Change(g.Endpoint!, new EndpointChange { HostAccess = true });
        h.Send(Make(GuestMac, HostMac));
        Assert.Single(g.Inbox);
    }
}
