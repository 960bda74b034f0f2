// An endpoint as one published forwarding table sees it: immutable, so the datapath reads
// it without locks while the control plane prepares the next table.
using System.Collections.Frozen;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;

namespace Mvtap.Core.Forwarding;

public sealed class EndpointSnapshot
{
    internal EndpointSnapshot(Endpoint ep)
    {
        Endpoint = ep;
        Mac = ep.Mac;
        Mode = ep.Mode;
        Flags = ep.Flags;
        IsUp = ep.IsUp;
        Mtu = ep.Mtu;
        SpoofCheck = ep.SpoofCheck;
        AllMulticast = ep.AllMulti || ep.Promisc;
        Groups = ep.Groups.Select(g => g.Value).ToFrozenSet();
        Counters = ep.Counters;
        IsHostPort = ep.IsHostPort;
        HostAccess = ep.HostAccess && !ep.IsHostPort;
    }

    public Endpoint Endpoint { get; }
    public int Slot => Endpoint.Slot;
    public MacAddress Mac { get; }
    public EndpointMode Mode { get; }
    public EndpointFlags Flags { get; }
    public bool IsUp { get; }
    public int Mtu { get; }
    public bool SpoofCheck { get; }
    public EndpointCounters Counters { get; }
    public bool IsHostPort { get; }
    /// <summary>hostaccess on (never for the host port itself).</summary>
    public bool HostAccess { get; }

    private bool AllMulticast { get; }
    private FrozenSet<ulong> Groups { get; }

    /// <summary>The per-endpoint multicast filter (spec 1.5): broadcast always passes, other
    /// groups if joined or the endpoint is allmulti/promisc. Exact, where the kernel uses a
    /// salted 256-bit hash with false positives (quirk Q7, a documented difference).</summary>
    public bool AcceptsGroup(MacAddress dst) => AllMulticast || dst.IsBroadcast || Groups.Contains(dst.Value);
}
