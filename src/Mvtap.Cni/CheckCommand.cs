// CNI CHECK: the attachment is still what ADD made and prevResult says. mvtapd still has the
// endpoint (also after a restart), of the configured kind, mode, lower and spoofchk, with
// prevResult's MAC and MTU; for a macvlan endpoint the NIC in the namespace carries that MAC and
// MTU, prevResult's addresses and routes; for a vhost-user one the socket is where prevResult
// says; for a tap one the endpoint is carried by the TAP named CNI_IFNAME, which is in the
// namespace (mvtapd makes it again if somebody deleted it) with the endpoint's MAC and MTU. Then the IPAM plugin checks its part. Any difference is error 100 saying which.
using Mvtap.Control;
using Mvtap.Core.Model;
using Mvtap.Linux.Netlink;

namespace Mvtap.Cni;

internal static class CheckCommand
{
    public static void Run(CniEnvironment env, NetConf conf)
    {
        var prev = conf.PrevResult is { } p ? CniResultReader.Parse(p, "prevResult")
            : throw new CniError(CniError.InvalidConfig, "required prevResult missing");
        int index = prev.Interfaces.FindIndex(i => i.Name == env.IfName && i.Sandbox == env.Netns);
        if (index < 0)
            throw Failed($"prevResult has no interface {env.IfName} in sandbox {env.Netns}");
        var expected = prev.Interfaces[index];

        var who = new CniAttachment { ContainerId = env.ContainerId, IfName = env.IfName, Network = conf.Name };
        var view = DaemonLink.For(conf).Find(who)
                   ?? throw Failed($"mvtapd has no endpoint for {env.ContainerId}/{env.IfName} of network {conf.Name}");
        CheckEndpoint(view, conf, expected);
        switch (conf.Endpoint)
        {
            case EndpointType.Macvlan:
                CheckNic(NamespacePath.ToName(env.Netns!), env.IfName, view, prev, index);
                break;
            case EndpointType.VhostUser:
                string socket = view.VhostUserPath ?? throw Failed($"{view.Name} has no vhost-user socket");
                if (expected.SocketPath is { } s && s != socket) throw Failed($"{view.Name}'s vhost-user socket is {socket}, prevResult says {s}");
                if (Mvtap.Linux.Interop.DeviceNodes.Inspect(socket) is not { IsSocket: true })
                    throw Failed($"{view.Name}'s vhost-user socket {socket} is gone");
                break;
            case EndpointType.Tap:
                CheckTap(NamespacePath.ToName(env.Netns!), env.IfName, view);
                break;
        }
        if (conf.IpamType is { } type) new IpamDelegate(type, env).Check(conf.Raw);
    }

    private static void CheckEndpoint(LinkView view, NetConf conf, CniInterface expected)
    {
        string type = conf.Endpoint == EndpointType.Macvlan ? LinkWords.Macvlan : LinkWords.Macvtap;
        if (view.Type != type) throw Failed($"{view.Name} is a {view.Type} endpoint, the configuration makes a {type} one");
        if (view.Mode != conf.Mode) throw Failed($"{view.Name}'s mode {view.Mode} does not match the expected {conf.Mode}");
        if (conf.Master is { } master && view.Lower != master) throw Failed($"{view.Name} is on {view.Lower}, the configuration says master {master}");
        if (view.SpoofCheck != conf.SpoofCheck) throw Failed($"{view.Name} has spoofchk {(view.SpoofCheck ? "on" : "off")}, the configuration says otherwise");
        if (expected.Mac is { } mac && !SameMac(mac, view.Mac)) throw Failed($"{view.Name}'s MAC {view.Mac} does not match prevResult's {mac}");
        if (expected.Mtu is int mtu && mtu != view.Mtu) throw Failed($"{view.Name}'s MTU {view.Mtu} does not match prevResult's {mtu}");
        if (conf.Mtu > 0 && conf.Mtu != view.Mtu) throw Failed($"{view.Name}'s MTU {view.Mtu} does not match the configured {conf.Mtu}");
    }

    private static void CheckNic(string netns, string ifName, LinkView view, CniResult prev, int index)
    {
        var (link, addresses, routes) = ContainerInterface.Inspect(netns, ifName);
        if (link is null) throw Failed($"container interface {ifName} not found in {netns}");
        if (link.Kind != "veth") throw Failed($"container interface {ifName} is a {link.Kind ?? "plain"} link, not mvtap's NIC");
        if (link.Address is not { } mac || !SameMac(mac.ToString(), view.Mac))
            throw Failed($"interface {ifName} MAC {link.Address} doesn't match the endpoint's {view.Mac}");
        if (link.Mtu != view.Mtu) throw Failed($"interface {ifName} MTU {link.Mtu} doesn't match the endpoint's {view.Mtu}");
        foreach (var ip in prev.Ips.Where(ip => ip.Interface == index))
            if (!addresses.Any(a => a.Address.Equals(ip.Address.Address) && a.PrefixLength == ip.Address.PrefixLength))
                throw Failed($"interface {ifName} lacks address {ip.Address} of prevResult");
        foreach (var r in prev.Routes)
            if (!routes.Any(x => Matches(x, r)))
                throw Failed($"route {r.Dst}{(r.Gw is null ? "" : $" via {r.Gw}")} of prevResult is missing in the container");
    }

    private static void CheckTap(string netns, string ifName, LinkView view)
    {
        if (view.Tap != ifName) throw Failed($"{view.Name} is not carried by tap {ifName}");
        if (view.TapState is null or "gone") throw Failed($"{view.Name}'s tap {ifName} is gone from {netns}");
        var (link, _, _) = ContainerInterface.Inspect(netns, ifName);
        if (link is null) throw Failed($"tap {ifName} not found in {netns}");
        if (link.Kind != "tun") throw Failed($"interface {ifName} is a {link.Kind ?? "plain"} link, not mvtap's tap");
        if (link.Address is not { } mac || !SameMac(mac.ToString(), view.Mac))
            throw Failed($"tap {ifName} MAC {link.Address} doesn't match the endpoint's {view.Mac}");
        if (link.Mtu != view.Mtu) throw Failed($"tap {ifName} MTU {link.Mtu} doesn't match the endpoint's {view.Mtu}");
    }

    private static bool Matches(RouteInfo x, CniRoute r)
    {
        var dst = Network(r.Dst);
        return x.PrefixLength == r.Dst.PrefixLength && x.Destination.Equals(dst)
               && (r.Gw is null || r.Gw.Equals(x.Gateway))
               && (r.Table is not int t || x.Table == (uint)t);
    }

    // a route's destination as the kernel stores it: host bits cleared
    private static System.Net.IPAddress Network(CidrAddress c)
    {
        var bytes = c.Address.GetAddressBytes();
        for (int bit = c.PrefixLength; bit < bytes.Length * 8; bit++) bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        return new System.Net.IPAddress(bytes);
    }

    private static bool SameMac(string a, string b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);

    private static CniError Failed(string what) => new(CniError.CheckFailed, what);
}
