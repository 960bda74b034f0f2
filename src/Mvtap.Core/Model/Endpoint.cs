// One endpoint: a MAC on the lower's segment with a mode, flags and state (the kernel's
// struct macvlan_dev, spec 1.3). The control plane changes it only through its Port, which
// validates each change and publishes a new forwarding table. The host port is an endpoint
// too (IsHostPort), with the host-port rules of HostPortRules.
using Mvtap.Core.Frames;

namespace Mvtap.Core.Model;

public sealed class Endpoint
{
    internal Endpoint(Port port, int slot, string name, MacAddress mac, EndpointMode mode, EndpointFlags flags, int mtu, bool isHostPort = false)
    {
        IsHostPort = isHostPort;
        Port = port;
        Slot = slot;
        Name = name;
        Mac = mac;
        Mode = mode;
        Flags = flags;
        Mtu = mtu;
    }

    public Port Port { get; }
    /// <summary>Position in the port's endpoint arrays; reused after deletion.</summary>
    public int Slot { get; }
    public string Name { get; internal set; }
    public MacAddress Mac { get; internal set; }
    public EndpointMode Mode { get; internal set; }
    public EndpointFlags Flags { get; internal set; }
    /// <summary>Administratively up (IFF_UP). Only up endpoints are in the MAC table (spec 1.4).</summary>
    public bool IsUp { get; internal set; }
    public int Mtu { get; internal set; }
    /// <summary>IFLA_MACVLAN_BC_QUEUE_LEN as requested by this endpoint (spec 1.6).</summary>
    public uint BcQueueLenRequest { get; internal set; } = Port.DefaultBcQueueLen;
    /// <summary>design.md: on by default; off reproduces the kernel.</summary>
    public bool SpoofCheck { get; internal set; } = true;
    public bool AllMulti { get; internal set; }
    public bool Promisc { get; internal set; }
    public bool IsDeleted { get; internal set; }
    /// <summary>The host port (type host, design.md): the host itself, not a tenant. Forwarded
    /// by the host-port rules (HostPortRules); its own mode is bridge.</summary>
    public bool IsHostPort { get; }
    /// <summary>hostaccess: frames between this endpoint and the host port are delivered locally
    /// whatever its mode (on, the default); off, the host port is an ordinary bridge endpoint to it.</summary>
    public bool HostAccess { get; internal set; } = true;

    internal readonly HashSet<MacAddress> Groups = [];
    /// <summary>The source-mode list, in insertion order (spec 1.7).</summary>
    internal readonly List<MacAddress> SourceMacs = [];

    public IReadOnlyCollection<MacAddress> MulticastGroups => Groups;
    public IReadOnlyList<MacAddress> SourceList => SourceMacs;

    public EndpointCounters Counters { get; } = new();

    /// <summary>Whether the endpoint has carrier: admin up and the lower operational (spec 4.5).</summary>
    public bool HasCarrier => Port.Lower.IsOperational;

    /// <summary>ip's operstate: DOWN, LOWERLAYERDOWN or UP (spec 4.5).</summary>
    public string OperState => !IsUp ? "DOWN" : HasCarrier ? "UP" : "LOWERLAYERDOWN";

    public override string ToString() => $"{Name} ({Mac}, {Mode.Name()}{(IsUp ? ", up" : "")})";
}
