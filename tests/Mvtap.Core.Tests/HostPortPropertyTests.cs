// Property tests of the host port over random ports (endpoints of every mode but passthru, up or
// down, hostaccess on or off, joined groups, hairpin on or off) and random frames:
// 1. an idle host port changes nothing: every frame not from or to it reaches the same stations
//    (endpoints, external hosts, the lower's stack, the wire) as on the same port without one;
// 2. the host port's rules: unicast between it and an up endpoint with hostaccess on arrives
//    exactly once and never on the wire; its broadcast reaches each such endpoint exactly once;
//    their broadcasts reach it exactly once; nothing reaches anyone twice.
using CsCheck;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Core.Sim;
using static Mvtap.Core.Tests.Frames;

namespace Mvtap.Core.Tests;

public class HostPortPropertyTests
{
    private static readonly EndpointMode[] Modes = [EndpointMode.Private, EndpointMode.Vepa, EndpointMode.Bridge, EndpointMode.Source];
    private static readonly MacAddress HostMac = Mac("1a:00:00:00:00:ff");
    private static MacAddress EndpointMac(int i) => new(0x1a_00_00_00_00_00UL | (uint)(i + 1));

    // one endpoint: mode, up, hostaccess, joined Group, source list holds Ext
    private static readonly Gen<(int Mode, bool Up, bool Access, bool Joined, bool ListsExt)> GenEndpoint =
        Gen.Select(Gen.Int[0, 3], Gen.Int[0, 4], Gen.Bool, Gen.Bool, Gen.Bool, (m, up, a, j, l) => (m, up != 0, a, j, l));

    // one frame: sender (-2 external, -1 host port, else endpoint), destination kind
    private static readonly Gen<(int From, int Dst)> GenFrame = Gen.Select(Gen.Int[-2, 4], Gen.Int[0, 8]);

    [Fact]
    public void An_idle_host_port_changes_no_delivery_that_does_not_involve_it()
    {
        Gen.Select(GenEndpoint.Array[1, 5], Gen.Bool, GenFrame.Array[1, 12]).Sample((eps, hairpin, frames) =>
        {
            var with = Build(eps, hairpin, hostPort: true);
            var without = Build(eps, hairpin, hostPort: false);
            foreach (var (from, dstKind) in frames)
            {
                if (from == -1) continue; // the host port stays idle
                var frameW = Frame(with, eps.Length, from, dstKind);
                var frameO = Frame(without, eps.Length, from, dstKind);
                if (frameW is null || frameO is null || EthernetFrame.Destination(frameW) == HostMac) continue;
                Assert.Equal(Deliveries(without, () => Send(without, from, frameO)), Deliveries(with, () => Send(with, from, frameW)));
            }
        }, iter: 300);
    }

    [Fact]
    public void The_host_port_reaches_every_endpoint_with_hostaccess_once_and_is_reached_once()
    {
        Gen.Select(GenEndpoint.Array[1, 5], Gen.Bool, GenFrame.Array[1, 12]).Sample((eps, hairpin, frames) =>
        {
            var net = Build(eps, hairpin, hostPort: true);
            var host = net.StationFor(net.Port.Find("mvhost0")!);
            foreach (var (from, dstKind) in frames)
            {
                var frame = Frame(net, eps.Length, from, dstKind);
                if (frame is null) continue;
                net.ClearInboxes();
                Send(net, from, frame);
                var dst = EthernetFrame.Destination(frame);
                foreach (var ep in net.Port.Endpoints)
                {
                    var inbox = net.StationFor(ep).Inbox;
                    Assert.True(inbox.Count <= 1, $"{ep} got one frame {inbox.Count} times");
                    if (ep.IsHostPort || !ep.IsUp || !ep.HostAccess) continue;
                    bool fromHost = from == -1;
                    if (fromHost && (dst == ep.Mac || dst.IsBroadcast)) Assert.Single(inbox);
                    if (fromHost && dst == ep.Mac) Assert.Empty(net.Wire);
                    if (from >= 0 && ep.Name == $"e{from % eps.Length}" && (dst == HostMac || dst.IsBroadcast))
                    {
                        Assert.Single(host.Inbox);
                        if (dst == HostMac) Assert.Empty(net.Wire);
                    }
                }
                Assert.True(host.Inbox.Count <= 1, $"the host port got one frame {host.Inbox.Count} times");
            }
        }, iter: 300);
    }

    private static SimNetwork Build((int Mode, bool Up, bool Access, bool Joined, bool ListsExt)[] eps, bool hairpin, bool hostPort)
    {
        var net = new SimNetwork(hairpin);
        net.AddExternalHost("ext", Ext);
        if (hostPort) net.AddEndpoint(new EndpointSettings { Name = "mvhost0", IsHostPort = true, Mac = HostMac });
        for (int i = 0; i < eps.Length; i++)
        {
            var e = eps[i];
            var mode = Modes[e.Mode];
            var st = net.AddEndpoint(new EndpointSettings
            {
                Name = $"e{i}", Mode = mode, Mac = EndpointMac(i), HostAccess = e.Access,
                MacaddrOp = mode == EndpointMode.Source && e.ListsExt ? MacaddrOperation.Add : null,
                Macaddr = mode == EndpointMode.Source && e.ListsExt ? Ext : null,
            }, e.Up);
            if (e.Joined) net.Port.JoinGroup(st.Endpoint!, Group);
        }
        return net;
    }

    // null when the frame makes no sense (a down sender, one to itself)
    private static byte[]? Frame(SimNetwork net, int count, int from, int dstKind)
    {
        if (from >= count) from %= count;
        MacAddress src = from switch { -2 => Ext, -1 => HostMac, _ => EndpointMac(from) };
        MacAddress dst = dstKind switch
        {
            0 => MacAddress.Broadcast,
            1 => Group,
            2 => OtherGroup,
            3 => Ext,
            4 => net.Port.Lower.Mac,
            5 => HostMac,
            _ => EndpointMac((dstKind - 6 + Math.Max(from, 0)) % count),
        };
        return dst == src ? null : Make(dst, src);
    }

    private static void Send(SimNetwork net, int from, byte[] frame)
    {
        var eps = net.Port.Endpoints.Where(e => !e.IsHostPort).ToList();
        if (from == -2) net.InjectFromWire(frame);
        else if (from == -1) net.StationFor(net.Port.Find("mvhost0")!).Send(frame);
        else net.StationFor(eps[from % eps.Count]).Send(frame);
    }

    // what every station but the host port received, as text, after one frame
    private static string Deliveries(SimNetwork net, Action send)
    {
        net.ClearInboxes();
        send();
        var parts = new List<string> { $"wire={net.Wire.Count}", $"lower={net.LowerStack.Inbox.Count}" };
        parts.AddRange(net.ExternalHosts.Select(h => $"{h.Name}={h.Inbox.Count}"));
        parts.AddRange(net.Port.Endpoints.Where(e => !e.IsHostPort)
            .Select(e => $"{e.Name}={string.Join(",", net.StationFor(e).Inbox.Select(f => f.Kind))}"));
        return string.Join(" ", parts);
    }
}
