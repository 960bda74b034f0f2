// A lower device as the daemon holds it: the core's Port plus whatever moves its frames (the
// AF_PACKET datapath for a real interface, the in-process switch for a sim lower).
using Mvtap.Core.Model;

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

    /// <summary>Creates the endpoint in the port and whatever carries its frames.</summary>
    Endpoint AddEndpoint(EndpointSettings settings, EndpointKind kind, string? netns);

    void RemoveEndpoint(Endpoint endpoint);

    /// <summary>Moves a macvlan endpoint's interface into a network namespace.</summary>
    void MoveToNamespace(Endpoint endpoint, string netns);

    /// <summary>Called after a change of the endpoint in the port (MAC, up/down, MTU), so the
    /// interface that carries it can follow.</summary>
    void EndpointChanged(Endpoint endpoint);

    /// <summary>Creates a macvtap endpoint's attachment points under <paramref name="runDir"/> (tapN.vhost,
    /// tapN.stream) owned by <paramref name="owner"/>/<paramref name="group"/>, or gives existing ones
    /// that owner. A lower that cannot carry guests' frames has none.</summary>
    void OpenAttachmentPoints(Endpoint endpoint, int index, string? owner, string? group, string runDir);

    /// <summary>Creates a kernel TAP relayed into a macvtap endpoint (mvtap run); the caller hands its
    /// queue descriptor over and closes the TapDevice.</summary>
    Linux.TapDevice OpenTap(Endpoint endpoint);
}

public enum EndpointKind { Macvtap, Macvlan }
