// The attributes of a create (newlink) and of a change (changelink + setlink), as the CLI and
// netlink carry them. Unset fields keep their value (or the kernel default on create).
using Mvtap.Core.Frames;

namespace Mvtap.Core.Model;

public sealed record EndpointSettings
{
    public required string Name { get; init; }
    public MacAddress? Mac { get; init; }
    public EndpointMode Mode { get; init; } = EndpointMode.Vepa; // spec 7.4 A20
    public EndpointFlags Flags { get; init; }
    public int? Mtu { get; init; }
    public uint? BcQueueLen { get; init; }
    public int? BcCutoff { get; init; }
    public MacaddrOperation? MacaddrOp { get; init; }
    public MacAddress? Macaddr { get; init; }
    public IReadOnlyList<MacAddress>? MacaddrData { get; init; }
    public bool SpoofCheck { get; init; } = true;
    /// <summary>Create the lower's host port (type host): mode bridge, at most one per lower.</summary>
    public bool IsHostPort { get; init; }
    public bool HostAccess { get; init; } = true;
}

public sealed record EndpointChange
{
    public MacAddress? Mac { get; init; }
    public bool? Up { get; init; }
    public EndpointMode? Mode { get; init; }
    public EndpointFlags? Flags { get; init; }
    public int? Mtu { get; init; }
    public uint? BcQueueLen { get; init; }
    public int? BcCutoff { get; init; }
    public MacaddrOperation? MacaddrOp { get; init; }
    public MacAddress? Macaddr { get; init; }
    public IReadOnlyList<MacAddress>? MacaddrData { get; init; }
    public bool? SpoofCheck { get; init; }
    public bool? AllMulti { get; init; }
    public bool? Promisc { get; init; }
    public IReadOnlyList<MacAddress>? JoinGroups { get; init; }
    public IReadOnlyList<MacAddress>? LeaveGroups { get; init; }
    public bool? HostAccess { get; init; }
}
