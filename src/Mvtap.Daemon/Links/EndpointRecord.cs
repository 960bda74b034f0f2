// The daemon's bookkeeping for one endpoint beyond the core's model: its index, type, which
// lower host carries it, and the attributes the core does not interpret (owner, group, netns,
// the guest memory a macvtap's vhost-user attachment maps, where its vhost-user socket lives and
// whether mvtapd dials that socket rather than listens on it, the CNI attachment that made it, and
// the persistent TAP that carries it instead).
using Mvtap.Core.Model;
using Mvtap.Daemon.Lowers;
using Mvtap.VhostUser.Memory;

namespace Mvtap.Daemon.Links;

public sealed class EndpointRecord(int index, EndpointKind kind, ILowerHost lower, Endpoint endpoint)
{
    public int Index { get; } = index;
    public EndpointKind Kind { get; } = kind;
    public ILowerHost Lower { get; } = lower;
    public Endpoint Endpoint { get; } = endpoint;
    public string Name => Endpoint.Name;
    public uint TxQueueLen { get; set; } = 500;
    public string? Owner { get; set; }
    public string? Group { get; set; }
    public string? Netns { get; set; }
    public GuestMemoryPolicy GuestMemory { get; set; } = GuestMemoryPolicy.Sealed;
    /// <summary>Where the vhost-user socket was asked to be bound; null = &lt;run-dir&gt;/tapN.vhost.</summary>
    public string? VhostUserPath { get; init; }
    public Mvtap.Control.CniAttachment? Cni { get; init; }
    /// <summary>`vhost-user connect`: mvtapd dials <see cref="VhostUserPath"/>, a frontend's socket.</summary>
    public bool VhostUserConnect { get; init; }
    /// <summary>A dialled frontend running as root is served too (root asked for the dial; libvirtd listens for its QEMU).</summary>
    public bool VhostUserRootPeer { get; init; }
    /// <summary>The persistent TAP (in <see cref="Netns"/>) that carries a macvtap endpoint instead of its
    /// attachment points; null for one with attachment points.</summary>
    public string? TapName { get; init; }

    public string TypeName => Kind switch
    {
        EndpointKind.Macvtap => LinkWords.Macvtap,
        EndpointKind.Host => LinkWords.Host,
        _ => LinkWords.Macvlan,
    };
}
