// What the core knows about the lower device: the facts that change forwarding (its MAC, MTU,
// state, and whether it filters unicast in hardware). Adapters report changes to the Port.
using Mvtap.Core.Frames;

namespace Mvtap.Core.Model;

public sealed class LowerDevice
{
    public LowerDevice(string name, MacAddress mac, int mtu = 1500, int maxMtu = 65535, bool supportsUnicastFilter = true)
    {
        Name = name;
        Mac = mac;
        Mtu = mtu;
        MaxMtu = maxMtu;
        SupportsUnicastFilter = supportsUnicastFilter;
    }

    public string Name { get; internal set; }
    public MacAddress Mac { get; internal set; }
    public int Mtu { get; internal set; }
    public int MaxMtu { get; internal set; }
    public bool IsUp { get; internal set; } = true;
    public bool HasCarrier { get; internal set; } = true;
    /// <summary>IFF_UNICAST_FLT: without it any secondary unicast address makes the lower
    /// promiscuous (spec 4.2), which sends all multicast through the broadcast queue (1.5).</summary>
    public bool SupportsUnicastFilter { get; internal set; }
    /// <summary>Promiscuity and allmulti the lower has on its own (tcpdump, the host).</summary>
    public int OwnPromiscuity { get; internal set; }
    public int OwnAllMulti { get; internal set; }

    public bool IsOperational => IsUp && HasCarrier;
}
