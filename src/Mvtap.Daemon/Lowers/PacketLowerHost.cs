// A `packet` lower: an existing Linux interface opened with AF_PACKET, its datapath thread
// and its endpoints (design.md). A macvlan endpoint is a veth pair whose inner end carries
// the endpoint's name and MAC; a macvtap endpoint lives in the port and waits for its
// hypervisor attachment.
using Mvtap.Core.Model;
using Mvtap.Linux.Datapath;
using Mvtap.Linux.Netlink;

namespace Mvtap.Daemon.Lowers;

public sealed class PacketLowerHost : ILowerHost
{
    private readonly LinuxSwitch _switch;
    private readonly LowerDatapath _datapath;
    /// <summary>Each macvlan endpoint's interface: the namespace it is in now, and the MAC it carries.</summary>
    private readonly Dictionary<Endpoint, (string? Netns, Core.Frames.MacAddress Mac)> _macvlans = [];

    private PacketLowerHost(LinuxSwitch sw, LowerDatapath datapath)
    {
        _switch = sw;
        _datapath = datapath;
    }

    public string Name => _datapath.Lower.Name;
    public string Kind => "packet";
    public Port Port => _datapath.Port;

    /// <summary>Opens the interface as a lower, or null when no such interface exists in the
    /// switch's namespace.</summary>
    public static ILowerHost? Open(LinuxSwitch sw, string name)
    {
        using (var rtnl = sw.Namespace is null ? new Rtnetlink() : Rtnetlink.InNamespace(sw.Namespace))
            if (rtnl.GetLink(name) is null) return null;
        return new PacketLowerHost(sw, sw.OpenLower(name));
    }

    public Endpoint AddEndpoint(EndpointSettings settings, EndpointKind kind, string? netns)
    {
        if (kind == EndpointKind.Macvtap)
        {
            if (netns is not null)
                throw new MvtapException(Errno.EINVAL, $"{settings.Name} is a macvtap: only macvlan endpoints live in a namespace");
            return Port.Create(settings);
        }
        RemoveStaleInterface(settings.Name, netns);
        var ep = _switch.AddMacvlanEndpoint(_datapath, settings, netns, settings.Name, up: false);
        _macvlans[ep] = (netns, ep.Mac);
        return ep;
    }

    // A daemon killed with SIGKILL leaves its veth pairs behind; the state file says this name is
    // ours, so a veth of that name is the previous run's and is replaced.
    private void RemoveStaleInterface(string name, string? netns)
    {
        using var rtnl = Rtnl(netns);
        if (rtnl.GetLink(name) is { Kind: "veth" }) rtnl.DeleteLink(name);
    }

    private Rtnetlink Rtnl(string? netns)
    {
        var ns = netns ?? _switch.Namespace;
        return ns is null ? new Rtnetlink() : Rtnetlink.InNamespace(ns);
    }

    public void RemoveEndpoint(Endpoint endpoint)
    {
        if (_macvlans.Remove(endpoint, out _)) _switch.RemoveEndpoint(endpoint);
        else Port.Delete(endpoint);
    }

    public void MoveToNamespace(Endpoint endpoint, string netns)
    {
        if (!_macvlans.TryGetValue(endpoint, out var inner))
            throw new MvtapException(Errno.EINVAL, $"{endpoint.Name} is not a macvlan endpoint");
        using var rtnl = Rtnl(inner.Netns);
        using var target = Mvtap.Linux.NetNamespace.Open(netns);
        rtnl.MoveToNamespace(_switch.AttachmentOf(endpoint).InnerName, target);
        _macvlans[endpoint] = inner with { Netns = netns };
    }

    /// <summary>The interface follows the endpoint: a MAC set with mvtap is the MAC the
    /// container's NIC sends with (else spoofchk would drop its frames).</summary>
    public void EndpointChanged(Endpoint endpoint)
    {
        if (!_macvlans.TryGetValue(endpoint, out var inner) || inner.Mac == endpoint.Mac) return;
        using var rtnl = Rtnl(inner.Netns);
        rtnl.SetLink(new LinkRequest { Name = _switch.AttachmentOf(endpoint).InnerName, Address = endpoint.Mac });
        _macvlans[endpoint] = inner with { Mac = endpoint.Mac };
    }

    public void Dispose() => _switch.CloseLower(_datapath);
}
