// A lower device as the daemon holds it: the core's Port plus whatever moves its frames (the
// AF_PACKET datapath for a real interface, the in-process switch for a sim lower).
using Mvtap.Core.Model;
using Mvtap.VhostUser.Memory;

namespace Mvtap.Daemon.Lowers;

public interface ILowerHost : IDisposable
{
    string Name { get; }
    /// <summary>"packet" or "sim" (design.md, lower device kinds).</summary>
    string Kind { get; }
    Port Port { get; }

    /// <summary>Where the lower is and whether its frames move (`link show -d`); a lower without a
    /// lifecycle of its own (sim) is always present and running.</summary>
    LowerHealth Health => LowerHealth.Normal;

    /// <summary>Creates the endpoint in the port and whatever carries its frames. A macvlan endpoint's
    /// interface is named <paramref name="innerName"/> (null: the endpoint's name).</summary>
    Endpoint AddEndpoint(EndpointSettings settings, EndpointKind kind, string? netns, string? innerName = null);

    void RemoveEndpoint(Endpoint endpoint);

    /// <summary>Creates a macvtap endpoint carried by a persistent TAP <paramref name="tapName"/> made in
    /// <paramref name="netns"/> (null: the lower's namespace) for <paramref name="owner"/>/<paramref name="group"/>,
    /// whose queue QEMU opens by name; <paramref name="adopt"/> takes over a TAP of that name a previous run
    /// left (a restore). A lower that cannot carry guests' frames refuses it.</summary>
    Endpoint AddTapEndpoint(EndpointSettings settings, string? netns, string tapName, string? owner, string? group, bool adopt) =>
        throw new MvtapException(Errno.EOPNOTSUPP, $"{Name} is a {Kind} lower: only a packet lower carries a guest through a TAP");

    /// <summary>What a tap endpoint's TAP is now (`link show -d`): "guest" (its queue is open), "no-guest",
    /// "down" (set down in its namespace) or "gone"; null for any other endpoint.</summary>
    string? TapState(Endpoint endpoint) => null;

    /// <summary>What a macvlan endpoint's (or host port's) interface is called where it lives now: its
    /// name, or what its container renamed it to; null for any other endpoint.</summary>
    string? InterfaceName(Endpoint endpoint) => null;

    /// <summary>Moves a macvlan endpoint's interface into a network namespace.</summary>
    void MoveToNamespace(Endpoint endpoint, string netns);

    /// <summary>An endpoint whose interface was deleted where it lives (inside its container, or with its
    /// namespace): the host has deleted it, as the kernel deletes a macvlan whose device is deleted.
    /// The string is the line that says so. Raised on a thread of its own.</summary>
    event Action<Endpoint, string>? EndpointDeleted { add { } remove { } }

    /// <summary>An endpoint's interface was moved to another namespace by someone else and is followed
    /// there: that namespace's name under /run/netns (null: none). Raised on a thread of its own.</summary>
    event Action<Endpoint, string?>? EndpointMoved { add { } remove { } }

    /// <summary>Called after a change of the endpoint in the port (MAC, up/down, MTU), so the
    /// interface that carries it can follow.</summary>
    void EndpointChanged(Endpoint endpoint);

    /// <summary>Creates a macvtap endpoint's attachment points under <paramref name="runDir"/> (tapN.vhost,
    /// tapN.stream) owned by <paramref name="owner"/>/<paramref name="group"/>, whose vhost-user frontend
    /// may share <paramref name="guestMemory"/>, or gives existing ones that owner and policy.
    /// <paramref name="vhostUserPath"/> places the vhost-user socket elsewhere (checked by the caller);
    /// with <paramref name="vhostUserConnect"/> it is a frontend's socket that mvtapd dials instead, served
    /// when the peer runs as the owner, or as root with <paramref name="vhostUserRootPeer"/>.
    /// A lower that cannot carry guests' frames has none.</summary>
    void OpenAttachmentPoints(Endpoint endpoint, int index, string? owner, string? group, string runDir, GuestMemoryPolicy guestMemory,
        string? vhostUserPath = null, bool vhostUserConnect = false, bool vhostUserRootPeer = true);

    /// <summary>A dialling (vhost-user connect) endpoint's session: whether a frontend is connected, and
    /// why the last dial failed while none is.</summary>
    (bool Connected, string? Problem) VhostUserDialState(Endpoint endpoint) => (false, null);

    /// <summary>Creates a kernel TAP relayed into a macvtap endpoint (mvtap run); the caller hands its
    /// queue descriptor over and closes the TapDevice.</summary>
    Linux.TapDevice OpenTap(Endpoint endpoint);
}

public enum EndpointKind { Macvtap, Macvlan, Host }
