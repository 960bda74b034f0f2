// A `packet` lower device (design.md "Words"): an existing Linux interface opened with AF_PACKET.
// Reads the interface's state from rtnetlink once at open, builds the core's Port for it, and
// keeps the interface's receive filter in step with Port.UnicastFilter (the kernel's dev_uc_add
// per endpoint MAC, spec 4.2) through PACKET_MR_UNICAST memberships, or one PACKET_MR_PROMISC
// membership when the interface has no unicast filter (IFF_UNICAST_FLT; veth has none).
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

namespace Mvtap.Linux.Datapath;

public sealed class PacketLower : IDisposable
{
    /// <summary>Room for a 64 KB GSO frame, its Ethernet header and a VLAN tag, plus the vnet header.</summary>
    public const int SlotSize = PacketAbi.VirtioNetHdrSize + 65536 + 14 + 4 + 10;

    // Drivers known to lack IFF_UNICAST_FLT: any secondary unicast address makes them promiscuous.
    private static readonly string[] KindsWithoutUnicastFilter = ["veth", "dummy", "vxlan", "geneve"];

    private readonly object _filterGate = new();
    private readonly Dictionary<MacAddress, UnicastFilterResult> _unicast = [];
    private bool _promiscuous;
    private bool _disposed;

    /// <param name="ifName">the interface to open.</param>
    /// <param name="netns">the named network namespace it lives in (null: the caller's).</param>
    public PacketLower(string ifName, string? netns = null)
    {
        Name = ifName;
        Namespace = netns;
        using var rtnl = netns is null ? new Rtnetlink() : Rtnetlink.InNamespace(netns);
        var link = rtnl.GetLink(ifName) ?? throw new SystemCallException($"no interface {ifName}", (int)Errno.ENODEV);
        if (link.HardwareType != 1 /* ARPHRD_ETHER */ || link.Address is null)
            throw new ArgumentException($"{ifName} is not an Ethernet interface", nameof(ifName));
        IfIndex = link.Index;
        Socket = Open(netns, link.Index);
        try
        {
            bool knownWithout = link.Kind is { } kind && KindsWithoutUnicastFilter.Contains(kind);
            SupportsUnicastFilter = !knownWithout && ProbeUnicastFilter(rtnl, link);
            int mtu = (int)link.Mtu;
            int maxMtu = (int)(link.MaxMtu is uint m and > 0 ? m : 65535);
            Port = new Port(new LowerDevice(ifName, link.Address.Value, mtu, maxMtu, SupportsUnicastFilter));
            // Carrier is unknown for a few drivers; IFF_LOWER_UP is what the kernel's macvlan follows.
            Port.OnLowerStateChanged(link.IsUp, link.Carrier ?? link.IsLowerUp);
            Port.Changed += OnPortChanged;
        }
        catch
        {
            Socket.Dispose();
            throw;
        }
    }

    public string Name { get; }
    public string? Namespace { get; }
    public int IfIndex { get; }
    public Port Port { get; }
    /// <summary>Batched, vnet-header, ignore-outgoing socket on the interface; read by the datapath thread only.</summary>
    public PacketSocket Socket { get; }
    /// <summary>Whether the interface filters unicast itself (the core's IFF_UNICAST_FLT).</summary>
    public bool SupportsUnicastFilter { get; }

    /// <summary>The datapath's socket options for a lower and for an endpoint's outer veth end alike:
    /// the vnet header keeps checksum/GSO metadata end to end (a GSO frame in is one GSO frame out),
    /// and ignore-outgoing hides our own transmissions, which would otherwise come straight back.</summary>
    internal static readonly PacketSocketOptions DatapathSocketOptions = new()
    {
        VnetHeader = true,
        IgnoreOutgoing = true,
        SendBuffer = 4 << 20,
        // frames larger than a ring slot wait here (GSO): room for sixty-odd 64 KB frames
        ReceiveBuffer = 4 << 20,
        FrameRing = PacketFrameRingGeometry.Default,
    };

    /// <summary>Opens a datapath socket on <paramref name="ifIndex"/> inside <paramref name="netns"/>; the
    /// socket stays in that namespace whatever thread uses it later.</summary>
    internal static PacketSocket Open(string? netns, int ifIndex)
    {
        var socket = netns is null ? new PacketSocket(ifIndex, DatapathSocketOptions)
            : NetNamespace.Run(netns, () => new PacketSocket(ifIndex, DatapathSocketOptions));
        // the kernel untags VLAN frames before packet sockets see them; the ring slot carries the
        // tag and RingReceiver puts it back into the frame
        return socket;
    }

    // IFF_UNICAST_FLT is not visible over rtnetlink. Its effect is: adding a secondary unicast
    // address to a device without it raises the device's promiscuity count. Try it with a
    // throw-away locally administered address and look.
    private bool ProbeUnicastFilter(Rtnetlink rtnl, LinkInfo before)
    {
        var probe = new MacAddress(0x02_6d_76_74_61_70UL); // 02:6d:76:74:61:70, "mvtap"
        var how = Socket.AddUnicast(probe);
        try
        {
            if (how != UnicastFilterResult.Filtered) return false;
            var after = rtnl.GetLink(before.Index);
            return after is not null && after.Promiscuity <= before.Promiscuity;
        }
        finally
        {
            Socket.DropUnicast(probe, how);
        }
    }

    // Raised after every change, outside the port's lock; memberships are setsockopt calls, which
    // the kernel serialises against the datapath thread's reads on the same socket.
    private void OnPortChanged(Port port) => SyncUnicastFilter();

    /// <summary>Brings the interface's filter in line with <see cref="Port.UnicastFilter"/>.</summary>
    public void SyncUnicastFilter()
    {
        lock (_filterGate)
        {
            if (_disposed) return;
            var wanted = Port.UnicastFilter;
            if (!SupportsUnicastFilter)
            {
                // spec 4.2: without IFF_UNICAST_FLT a non-empty secondary list means promiscuous
                bool need = wanted.Count > 0;
                if (need != _promiscuous)
                {
                    Socket.SetPromiscuous(need);
                    _promiscuous = need;
                }
                return;
            }
            foreach (var (mac, how) in _unicast.ToArray())
            {
                if (wanted.Contains(mac)) continue;
                Socket.DropUnicast(mac, how);
                _unicast.Remove(mac);
            }
            foreach (var mac in wanted)
                if (!_unicast.ContainsKey(mac)) _unicast[mac] = Socket.AddUnicast(mac);
        }
    }

    /// <summary>MACs currently admitted through PACKET_MR_UNICAST, and whether the promiscuous fallback is held.</summary>
    public (IReadOnlyCollection<MacAddress> Unicast, bool Promiscuous) FilterState
    {
        get { lock (_filterGate) return ([.. _unicast.Keys], _promiscuous); }
    }

    public void Dispose()
    {
        lock (_filterGate)
        {
            if (_disposed) return;
            _disposed = true;
            Port.Changed -= OnPortChanged;
            // Closing the socket releases its memberships in the kernel (packet_release → packet_flush_mclist).
            Socket.Dispose();
        }
    }
}
