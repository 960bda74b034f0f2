// What to create or change on a link: each property left null is not sent, so the kernel keeps
// (or defaults) it. Raw values are allowed on purpose (e.g. mode 3) so callers can see the kernel refuse them.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Linux.Interop;

namespace Mvtap.Linux.Netlink;

public sealed record LinkRequest
{
    /// <summary>IFLA_IFNAME: the new name on create; on set/delete identifies the link when <see cref="Index"/> is 0.</summary>
    public string? Name { get; init; }
    /// <summary>ifinfomsg.ifi_index of the link to change or delete (0 = by name).</summary>
    public int Index { get; init; }
    /// <summary>IFLA_LINK: the lower device's ifindex (required for macvlan/macvtap).</summary>
    public int? Link { get; init; }
    public MacAddress? Address { get; init; }
    public uint? Mtu { get; init; }
    public uint? TxQueueLength { get; init; }
    /// <summary>IFLA_NET_NS_FD: create in / move to the namespace this fd refers to.</summary>
    public FileDescriptor? NetNsFd { get; init; }
    /// <summary>IFLA_NET_NS_PID: create in / move to the network namespace of this process.</summary>
    public int? NetNsPid { get; init; }
    /// <summary>IFF_UP in ifi_flags/ifi_change: true = up, false = down, null = unchanged.</summary>
    public bool? Up { get; init; }
    /// <summary>IFLA_INFO_KIND: "macvlan", "macvtap", "veth"...; required on create.</summary>
    public string? Kind { get; init; }
    /// <summary>IFLA_INFO_DATA for macvlan/macvtap.</summary>
    public MacvlanAttributes? Macvlan { get; init; }
    /// <summary>VETH_INFO_PEER for veth: the other end (name, address, namespace...).</summary>
    public LinkRequest? VethPeer { get; init; }
}

/// <summary>IFLA_MACVLAN_* attributes, each sent only when set.</summary>
public sealed record MacvlanAttributes
{
    public EndpointMode? Mode { get; init; }
    public EndpointFlags? Flags { get; init; }
    public MacaddrOperation? MacaddrMode { get; init; }
    /// <summary>IFLA_MACVLAN_MACADDR: the address for MACADDR_MODE add/delete.</summary>
    public MacAddress? Macaddr { get; init; }
    /// <summary>IFLA_MACVLAN_MACADDR_DATA: the list for MACADDR_MODE set.</summary>
    public IReadOnlyList<MacAddress>? MacaddrData { get; init; }
    public uint? BcQueueLength { get; init; }
    public int? BcCutoff { get; init; }
    /// <summary>Output-only attributes; sendable only to see the kernel reject them.</summary>
    public uint? MacaddrCount { get; init; }
    public uint? BcQueueLengthUsed { get; init; }
}
