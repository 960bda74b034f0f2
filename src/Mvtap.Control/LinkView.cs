// One endpoint as the daemon reports it: everything `mvtap link show` (text, -d, -s, -j) and
// `mvtap qemu` print. Field meanings follow the kernel's netdev and macvlan attributes.
namespace Mvtap.Control;

public sealed record LinkView
{
    /// <summary>The endpoint's index N (ifindex; a macvtap's attachment points are tapN.*).</summary>
    public int Index { get; init; }
    public string Name { get; init; } = "";
    /// <summary>"macvtap", "macvlan" or "host" (info_kind "mvtap-host").</summary>
    public string Type { get; init; } = "";
    public string Lower { get; init; } = "";
    public string Mac { get; init; } = "";
    /// <summary>"private", "vepa", "bridge", "passthru" or "source".</summary>
    public string Mode { get; init; } = "vepa";
    /// <summary>"nopromisc" and/or "nodst".</summary>
    public List<string> Flags { get; init; } = [];
    public bool AdminUp { get; init; }
    /// <summary>"UP", "DOWN", "LOWERLAYERDOWN" or "UNKNOWN", as ip prints it.</summary>
    public string OperState { get; init; } = "DOWN";
    public bool Carrier { get; init; }
    public int Mtu { get; init; } = 1500;
    public int MinMtu { get; init; } = 68;
    public int MaxMtu { get; init; } = 65535;
    public uint TxQueueLen { get; init; } = 500;
    /// <summary>The root qdisc the kernel reports (the --kernel backend); null for mvtapd's endpoints.</summary>
    public string? Qdisc { get; init; }
    public uint BcQueueLen { get; init; } = 1000;
    public uint UsedBcQueueLen { get; init; } = 1000;
    public int BcCutoff { get; init; } = 1;
    /// <summary>Source-mode MAC list.</summary>
    public List<string> Macaddrs { get; init; } = [];
    public bool SpoofCheck { get; init; }
    public string? Owner { get; init; }
    public string? Group { get; init; }
    /// <summary>Network namespace a macvlan endpoint was moved to, or a macvtap's tap is in; null = the host's.</summary>
    public string? Netns { get; init; }
    /// <summary>What a macvlan endpoint's (or host port's) interface is called where it lives: its name, or
    /// what its container renamed it to (CNI's eth0); null for other endpoints.</summary>
    public string? Interface { get; init; }
    /// <summary>Guest memory the vhost-user attachment maps: "sealed" or "any" (macvtap only).</summary>
    public string? GuestMemory { get; init; }
    /// <summary>vhost-user socket path (macvtap only).</summary>
    public string? VhostUserPath { get; init; }
    /// <summary>Queue pairs the vhost-user socket offers a frontend (macvtap only; 0 when unknown).</summary>
    public int VhostUserQueuePairs { get; init; }
    /// <summary>"listen" or "connect" (VhostUserModes; macvtap only). In "connect", VhostUserPath is the
    /// frontend's socket mvtapd dials, and VhostUserConnected/VhostUserProblem say how that goes.</summary>
    public string? VhostUserMode { get; init; }
    public bool VhostUserConnected { get; init; }
    public string? VhostUserProblem { get; init; }
    /// <summary>QEMU -netdev stream socket path (macvtap only).</summary>
    public string? StreamPath { get; init; }
    /// <summary>Where the lower is: "present", "moved" (followed into another namespace),
    /// "unreachable" or "gone"; and why, when it is not simply present. Null when not known (the
    /// --kernel backend: the kernel's own macvlans have no such state).</summary>
    public string? LowerState { get; init; }
    public string? LowerReason { get; init; }
    /// <summary>The namespace a moved lower was followed into.</summary>
    public string? LowerNetns { get; init; }
    /// <summary>The lower's datapath thread: "running", "restarting" (after a failure) or "stopped";
    /// why, and how often it was restarted. Null when there is none (the --kernel backend).</summary>
    public string? DatapathState { get; init; }
    public string? DatapathReason { get; init; }
    public int DatapathRestarts { get; init; }
    /// <summary>The CNI attachment that made the endpoint; null for one made by hand.</summary>
    public CniAttachment? Cni { get; init; }
    /// <summary>The persistent TAP (in <see cref="Netns"/>) that carries a macvtap endpoint, whose queue QEMU
    /// opens by name; null for an endpoint with attachment points.</summary>
    public string? Tap { get; init; }
    /// <summary>That TAP now: "guest" (a queue is open: the guest is attached), "no-guest", "down" (set down
    /// in its namespace) or "gone" (and not made again: its namespace is gone).</summary>
    public string? TapState { get; init; }
    public int Promiscuity { get; init; }
    public int Allmulti { get; init; }
    public LinkStatistics Statistics { get; init; } = new();
    /// <summary>`hostaccess`: whether the lower's host port reaches this endpoint whatever its mode.</summary>
    public bool HostAccess { get; init; } = true;
}

/// <summary>Counters, named as in rtnl_link_stats64, plus mvtap's drops by reason.</summary>
public sealed record LinkStatistics
{
    public ulong RxBytes { get; init; }
    public ulong RxPackets { get; init; }
    public ulong RxErrors { get; init; }
    public ulong RxDropped { get; init; }
    public ulong RxMissed { get; init; }
    public ulong RxMulticast { get; init; }
    public ulong TxBytes { get; init; }
    public ulong TxPackets { get; init; }
    public ulong TxErrors { get; init; }
    public ulong TxDropped { get; init; }
    public ulong TxCarrierErrors { get; init; }
    public ulong TxCollisions { get; init; }
    /// <summary>Frames not delivered, by reason ("no_destination", "queue_full", "spoofed_source", ...).</summary>
    public Dictionary<string, ulong> DropsByReason { get; init; } = [];
    /// <summary>Frames of the endpoint's lower device that reached no endpoint, by reason ("reasm_overlap",
    /// "malformed", "internal_error", ...): counted once per lower, so every endpoint on it shows the same.</summary>
    public Dictionary<string, ulong> LowerDropsByReason { get; init; } = [];
    /// <summary>Frames mvtap took from the endpoint's lower device (the wire) and frames it sent to it:
    /// counted once per lower, so every endpoint on it shows the same.</summary>
    public ulong LowerRxPackets { get; init; }
    public ulong LowerTxPackets { get; init; }
}
