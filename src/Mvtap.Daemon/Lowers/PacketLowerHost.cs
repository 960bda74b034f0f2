// A `packet` lower as the daemon holds it: an existing Linux interface opened with AF_PACKET, its
// datapath thread and its endpoints (design.md), all assembled by the switch (DatapathSwitch.AddEndpoint):
// a macvlan endpoint is a veth pair whose inner end carries the endpoint's name and MAC; a macvtap
// endpoint gets its attachment points under the run directory (tapN.vhost, tapN.stream), served by
// the lower's datapath thread, or is carried by a persistent TAP in a namespace (AddTapEndpoint). Here: the daemon's words turned into the switch's (kinds, places,
// owner names) and the lower's health (where the lower is, whether the thread forwards), which is
// what `link show -d` shows.
using Mvtap.Control;
using Mvtap.Core.Model;
using Mvtap.Daemon.Attachments;
using Mvtap.Datapath;
using Mvtap.Linux.Netlink;
using Mvtap.VhostUser;

namespace Mvtap.Daemon.Lowers;

public sealed class PacketLowerHost : ILowerHost
{
    private readonly DatapathSwitch _switch;
    private readonly LowerDatapath _datapath;
    private readonly HashSet<Endpoint> _macvlans = [];

    private PacketLowerHost(DatapathSwitch sw, LowerDatapath datapath)
    {
        _switch = sw;
        _datapath = datapath;
        sw.MacvlanEndpointDeleted += OnDeleted;
        sw.MacvlanInterfaceMoved += OnMoved;
    }

    public event Action<Endpoint, string>? EndpointDeleted;
    public event Action<Endpoint, string?>? EndpointMoved;

    /// <summary>The switch's link monitors saw a lower or an endpoint's interface change (any lower's, not
    /// only this one's: DatapathSwitch.LinksChanged); raised on the thread pool.</summary>
    public event Action? LinksChanged
    {
        add => _switch.LinksChanged += value;
        remove => _switch.LinksChanged -= value;
    }

    // The switch's events are for every lower's endpoints; _macvlans is shared with the control plane.
    private void OnDeleted(Endpoint ep, string line)
    {
        lock (_macvlans) if (!_macvlans.Remove(ep)) return;
        EndpointDeleted?.Invoke(ep, line);
    }

    private void OnMoved(Endpoint ep, string? netns)
    {
        lock (_macvlans) if (!_macvlans.Contains(ep)) return;
        EndpointMoved?.Invoke(ep, netns);
    }

    public string Name => _datapath.Lower.Name;
    public string Kind => "packet";
    public Port Port => _datapath.Port;

    public LowerHealth Health
    {
        get
        {
            var status = _datapath.Lower.Status;
            var (state, fault, restarts, due) = _datapath.Status;
            string? why = fault is null ? null : $"{fault.GetType().Name}: {fault.Message}";
            if (state == DatapathState.Restarting && due is { } at)
                why = $"failed ({why}); restarting in {Math.Max(0, Math.Ceiling((at - DateTime.UtcNow).TotalSeconds))} s";
            else if (state == DatapathState.Running && why is not null)
                why = $"restarted after a failure ({why})";
            return new LowerHealth
            {
                State = status.Name,
                Reason = status.Reason,
                Netns = status.Netns,
                DatapathState = state switch { DatapathState.Running => "running", DatapathState.Restarting => "restarting", _ => "stopped" },
                DatapathReason = why,
                DatapathRestarts = restarts,
            };
        }
    }

    /// <summary>The lower's datapath (tests, diagnostics).</summary>
    public LowerDatapath Datapath => _datapath;

    /// <summary>Opens the interface as a lower, or null when no such interface exists in the
    /// switch's namespace.</summary>
    public static ILowerHost? Open(DatapathSwitch sw, string name)
    {
        using (var rtnl = sw.Namespace is null ? new Rtnetlink() : Rtnetlink.InNamespace(sw.Namespace))
            if (rtnl.GetLink(name) is null) return null;
        return new PacketLowerHost(sw, sw.OpenLower(name));
    }

    public Endpoint AddEndpoint(EndpointSettings settings, EndpointKind kind, string? netns, string? innerName = null)
    {
        if (kind == EndpointKind.Macvtap)
        {
            if (netns is not null)
                throw new MvtapException(Errno.EINVAL, $"{settings.Name} is a macvtap: only macvlan endpoints live in a namespace");
            return _switch.AddEndpoint(_datapath, new MacvtapSpec(settings));
        }
        if (kind == EndpointKind.Host)
        {
            if (netns is not null)
                throw new MvtapException(Errno.EINVAL, $"{settings.Name} is a host port: it stays in the host's namespace");
            // its interface of a previous run is adopted with its addresses, as a macvlan's NIC is
            var host = _switch.AddEndpoint(_datapath, new HostPortSpec(settings with { IsHostPort = true }, settings.Name));
            lock (_macvlans) _macvlans.Add(host); // its interface's deletion deletes it, as a macvlan's
            return host;
        }
        // A pair of a previous run (mvtapd stopped or killed) is adopted: the container keeps
        // its NIC and its configuration. Any other interface of that name is refused (EEXIST).
        var ep = _switch.AddEndpoint(_datapath, new MacvlanSpec(settings, netns, innerName ?? settings.Name, Up: false, Adopt: true));
        lock (_macvlans) _macvlans.Add(ep);
        return ep;
    }

    public Endpoint AddTapEndpoint(EndpointSettings settings, string? netns, string tapName, string? owner, string? group, bool adopt) =>
        _switch.AddEndpoint(_datapath, new TapSpec(settings, netns, tapName, Accounts.Uid(owner), Accounts.Gid(group), adopt,
            line => Console.Error.WriteLine($"mvtapd: {settings.Name}: {line}")));

    public string? InterfaceName(Endpoint endpoint)
    {
        lock (_macvlans) if (!_macvlans.Contains(endpoint)) return null;
        try { return _switch.AttachmentOf(endpoint).InnerName; }
        catch (MvtapException) { return null; } // deleted meanwhile
    }

    public string? TapState(Endpoint endpoint)
    {
        if (_switch.TapAttachmentOf(endpoint) is not { } tap) return null;
        if (tap.ReadTap() is not { } link) return "gone";
        if (!link.IsUp) return "down";
        return link.IsLowerUp ? "guest" : "no-guest";
    }

    public void RemoveEndpoint(Endpoint endpoint)
    {
        lock (_macvlans) _macvlans.Remove(endpoint);
        _switch.RemoveEndpoint(endpoint);
    }

    public void OpenAttachmentPoints(Endpoint endpoint, int index, string? owner, string? group, string runDir,
        GuestMemoryPolicy guestMemory, string? vhostUserPath = null, bool vhostUserConnect = false, bool vhostUserRootPeer = true)
    {
        var places = new MacvtapPlaces(vhostUserPath ?? ControlPaths.VhostUserPath(runDir, index), ControlPaths.StreamPath(runDir, index),
            Accounts.Uid(owner), Accounts.Gid(group), guestMemory, vhostUserConnect ? VhostUserRole.Client : VhostUserRole.Server, vhostUserRootPeer);
        _switch.OpenAttachmentPoints(endpoint, places, line => Console.Error.WriteLine($"mvtapd: {endpoint.Name}: {line}"));
    }

    public Linux.TapDevice OpenTap(Endpoint endpoint) => _switch.OpenTap(endpoint);

    public (bool Connected, string? Problem) VhostUserDialState(Endpoint endpoint) =>
        _switch.AttachmentPointsOf(endpoint) is { } points && points.VhostEndpoint.Role == VhostUserRole.Client
            ? (points.Vhost.Backend.IsConnected, points.VhostEndpoint.DialProblem)
            : (false, null);

    /// <summary>The attachment points of a macvtap endpoint, if it has them (tests, diagnostics).</summary>
    public MacvtapAttachmentPoints? AttachmentPointsOf(Endpoint endpoint) => _switch.AttachmentPointsOf(endpoint);

    public void MoveToNamespace(Endpoint endpoint, string netns)
    {
        bool macvlan;
        lock (_macvlans) macvlan = _macvlans.Contains(endpoint);
        if (!macvlan)
            throw new MvtapException(Errno.EINVAL, $"{endpoint.Name} is not a macvlan endpoint");
        _switch.MoveEndpoint(endpoint, netns);
    }

    // The switch keeps each macvlan interface's MAC in step with its endpoint.
    public void EndpointChanged(Endpoint endpoint) { }

    public void Dispose()
    {
        _switch.MacvlanEndpointDeleted -= OnDeleted;
        _switch.MacvlanInterfaceMoved -= OnMoved;
        _switch.CloseLower(_datapath);
    }
}
