// One "open" of a lower device: the AF_PACKET socket (with its ring) bound to the interface's
// index in the namespace it was found in, and the receive-filter memberships held through that
// socket (PACKET_MR_UNICAST per endpoint MAC, or the promiscuous fallback). Memberships live and
// die with the socket, so when the lower is reopened (it came back, or was followed into another
// namespace) a new opening is made and the filter is brought onto it whole. Where the lower is
// when it is not open, and why, is its status.
using Mvtap.Core.Frames;
using Mvtap.Linux;

namespace Mvtap.Datapath;

internal sealed class LowerOpening(PacketSocket socket, int ifIndex, LowerNamespace? elsewhere, bool supportsUnicastFilter) : IDisposable
{
    public PacketSocket Socket { get; } = socket;
    public int IfIndex { get; } = ifIndex;
    /// <summary>The namespace the interface was followed into; null: the switch's own.</summary>
    public LowerNamespace? Elsewhere { get; } = elsewhere;
    /// <summary>Whether this interface filters unicast itself (IFF_UNICAST_FLT, probed at open).</summary>
    public bool SupportsUnicastFilter { get; } = supportsUnicastFilter;
    /// <summary>MACs admitted through this socket, and how. Guarded by the PacketLower's lock.</summary>
    public Dictionary<MacAddress, UnicastFilterResult> Unicast { get; } = [];
    public bool Promiscuous { get; set; }

    // Closing the socket releases its memberships in the kernel (packet_release → packet_flush_mclist).
    public void Dispose() => Socket.Dispose();
}

/// <summary>Where a lower is: open in the switch's namespace, followed into another one, moved
/// where mvtap cannot reach it, or deleted.</summary>
public enum LowerPresence { Present, Elsewhere, Unreachable, Gone }

/// <summary>A lower's presence, why it is so (null when it is simply there), and the namespace it
/// was followed into (null unless <see cref="LowerPresence.Elsewhere"/>).</summary>
public sealed record LowerStatus(LowerPresence Presence, string? Reason = null, string? Netns = null)
{
    public static readonly LowerStatus Present = new(LowerPresence.Present);

    /// <summary>As `link show -d` prints it: present, moved, unreachable, gone.</summary>
    public string Name => Presence switch
    {
        LowerPresence.Present => "present",
        LowerPresence.Elsewhere => "moved",
        LowerPresence.Unreachable => "unreachable",
        _ => "gone",
    };

    /// <summary>Whether the lower has an open socket (frames can reach and leave the wire).</summary>
    public bool IsOpen => Presence is LowerPresence.Present or LowerPresence.Elsewhere;
}
