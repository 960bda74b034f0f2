// A `packet` lower device (design.md "Words"): an existing Linux interface opened with AF_PACKET.
// Reads the interface's state from rtnetlink once at open, builds the core's Port for it, and
// keeps the interface's receive filter in step with Port.UnicastFilter (the kernel's dev_uc_add
// per endpoint MAC, spec 4.2) through PACKET_MR_UNICAST memberships, or one PACKET_MR_PROMISC
// membership when the interface has no unicast filter (IFF_UNICAST_FLT; veth has none).
// The socket and the memberships belong to one opening (LowerOpening) of the interface: when the
// lower comes back after a deletion, or is followed into another namespace, a new opening takes
// the old one's place (LowerDatapath.ReopenLower) while the Port and its endpoints stay.
using Mvtap.Core.Model;
using Mvtap.Linux;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

namespace Mvtap.Datapath;

public sealed class PacketLower : IDisposable
{
    /// <summary>Room for a 64 KB GSO frame, its Ethernet header and a VLAN tag, plus the vnet header.</summary>
    public const int SlotSize = PacketAbi.VirtioNetHdrSize + 65536 + 14 + 4 + 10;

    // Drivers known to lack IFF_UNICAST_FLT: any secondary unicast address makes them promiscuous.
    private static readonly string[] KindsWithoutUnicastFilter = ["veth", "dummy", "vxlan", "geneve"];

    private readonly object _gate = new(); // guards _open and its memberships
    private LowerOpening? _open;
    private volatile LowerStatus _status = LowerStatus.Present;
    private bool _disposed;

    /// <param name="ifName">the interface to open.</param>
    /// <param name="netns">the named network namespace it lives in (null: the caller's).</param>
    /// <param name="clock">the port's clock (reassembly timeouts); default the system's.</param>
    public PacketLower(string ifName, string? netns = null, TimeProvider? clock = null)
    {
        Namespace = netns;
        using var rtnl = netns is null ? new Rtnetlink() : Rtnetlink.InNamespace(netns);
        var link = rtnl.GetLink(ifName) ?? throw new SystemCallException($"no interface {ifName}", (int)Errno.ENODEV);
        if (link.HardwareType != 1 /* ARPHRD_ETHER */ || link.Address is null)
            throw new ArgumentException($"{ifName} is not an Ethernet interface", nameof(ifName));
        _open = OpenAt(null, rtnl, link);
        try
        {
            int mtu = (int)link.Mtu;
            Port = new Port(new LowerDevice(ifName, link.Address.Value, mtu, MaxMtuOf(link), _open.SupportsUnicastFilter), clock: clock);
            // Carrier is unknown for a few drivers; IFF_LOWER_UP is what the kernel's macvlan follows.
            Port.OnLowerStateChanged(link.IsUp, CarrierOf(link));
            Port.Changed += OnPortChanged;
        }
        catch
        {
            _open.Dispose();
            throw;
        }
    }

    /// <summary>The lower's name in the switch's namespace (it follows a rename there).</summary>
    public string Name => Port.Lower.Name;
    /// <summary>The switch's namespace, where the lower is configured (null: the caller's).</summary>
    public string? Namespace { get; }
    /// <summary>The interface's index where it is open now; 0 while it is not.</summary>
    public int IfIndex => _open?.IfIndex ?? 0;
    public Port Port { get; }
    /// <summary>Batched, vnet-header, ignore-outgoing socket on the interface; read by the datapath thread only.</summary>
    public PacketSocket Socket => _open?.Socket ?? throw new InvalidOperationException($"{Name} is not open: {_status.Reason}");
    internal PacketSocket? CurrentSocket => _open?.Socket;
    /// <summary>The namespace the lower was followed into; null while it is in the switch's own (or not open).</summary>
    internal LowerNamespace? OpenElsewhere => _open?.Elsewhere;
    /// <summary>Whether the interface filters unicast itself (the core's IFF_UNICAST_FLT).</summary>
    public bool SupportsUnicastFilter => Port.Lower.SupportsUnicastFilter;
    /// <summary>Where the lower is and why (present, followed elsewhere, out of reach, gone).</summary>
    public LowerStatus Status => _status;

    /// <summary>Raised after <see cref="Status"/> was set (the lower gone, back, moved); a handler must
    /// return at once (`mvtap monitor` is told through it instead of finding it by polling).</summary>
    public event Action? StatusChanged;

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

    internal static int MaxMtuOf(LinkInfo link) => (int)(link.MaxMtu is uint m and > 0 ? m : 65535);
    internal static bool CarrierOf(LinkInfo link) => link.Carrier ?? link.IsLowerUp;

    /// <summary>Opens <paramref name="link"/> (found in <paramref name="elsewhere"/>, null: the switch's
    /// namespace, and read with <paramref name="rtnl"/> there) as a new opening, not yet in use.</summary>
    internal LowerOpening OpenAt(LowerNamespace? elsewhere, Rtnetlink rtnl, LinkInfo link)
    {
        if (link.HardwareType != 1 /* ARPHRD_ETHER */ || link.Address is null)
            throw new ArgumentException($"{link.Name} is not an Ethernet interface", nameof(link));
        var socket = elsewhere is null ? Open(Namespace, link.Index) : elsewhere.Run(() => new PacketSocket(link.Index, DatapathSocketOptions));
        try
        {
            bool knownWithout = link.Kind is { } kind && KindsWithoutUnicastFilter.Contains(kind);
            return new LowerOpening(socket, link.Index, elsewhere, !knownWithout && ProbeUnicastFilter(socket, rtnl, link));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Makes <paramref name="next"/> the lower's opening (null: it has none now) with
    /// <paramref name="status"/>, and brings the receive filter onto it. The previous opening is
    /// not closed here: the datapath thread closes its socket when it lets go of it.</summary>
    internal void Install(LowerOpening? next, LowerStatus status)
    {
        lock (_gate)
        {
            if (_disposed)
            {
                next?.Dispose();
                throw new ObjectDisposedException(nameof(PacketLower));
            }
            _open = next;
            _status = status;
        }
        if (next is not null) SyncUnicastFilter();
        StatusChanged?.Invoke();
    }

    // IFF_UNICAST_FLT is not visible over rtnetlink. Its effect is: adding a secondary unicast
    // address to a device without it raises the device's promiscuity count. Try it with a
    // throw-away locally administered address and look.
    private static bool ProbeUnicastFilter(PacketSocket socket, Rtnetlink rtnl, LinkInfo before)
    {
        var probe = new Core.Frames.MacAddress(0x02_6d_76_74_61_70UL); // 02:6d:76:74:61:70, "mvtap"
        var how = socket.AddUnicast(probe);
        try
        {
            if (how != UnicastFilterResult.Filtered) return false;
            var after = rtnl.GetLink(before.Index);
            return after is not null && after.Promiscuity <= before.Promiscuity;
        }
        finally
        {
            socket.DropUnicast(probe, how);
        }
    }

    // Raised after every change, outside the port's lock; memberships are setsockopt calls, which
    // the kernel serialises against the datapath thread's reads on the same socket.
    private void OnPortChanged(Port port) => SyncUnicastFilter();

    /// <summary>Brings the interface's filter in line with <see cref="Port.UnicastFilter"/>.</summary>
    public void SyncUnicastFilter()
    {
        // The port is read outside this lock, so this lock is never held while the port's is taken;
        // a change published meanwhile (by a control request, or a reopen) is applied by going again.
        while (true)
        {
            var table = Port.Table;
            var wanted = Port.UnicastFilter;
            lock (_gate)
            {
                if (_disposed || _open is not { } open) return;
                Apply(open, wanted);
            }
            if (ReferenceEquals(table, Port.Table)) return;
        }
    }

    private static void Apply(LowerOpening open, IReadOnlyList<Core.Frames.MacAddress> wanted)
    {
        if (!open.SupportsUnicastFilter)
        {
            // spec 4.2: without IFF_UNICAST_FLT a non-empty secondary list means promiscuous
            bool need = wanted.Count > 0;
            if (need != open.Promiscuous)
            {
                open.Socket.SetPromiscuous(need);
                open.Promiscuous = need;
            }
            return;
        }
        foreach (var (mac, how) in open.Unicast.ToArray())
        {
            if (wanted.Contains(mac)) continue;
            open.Socket.DropUnicast(mac, how);
            open.Unicast.Remove(mac);
        }
        foreach (var mac in wanted)
            if (!open.Unicast.ContainsKey(mac)) open.Unicast[mac] = open.Socket.AddUnicast(mac);
    }

    /// <summary>MACs currently admitted through PACKET_MR_UNICAST, and whether the promiscuous fallback is held.</summary>
    public (IReadOnlyCollection<Core.Frames.MacAddress> Unicast, bool Promiscuous) FilterState
    {
        get { lock (_gate) return _open is { } o ? ([.. o.Unicast.Keys], o.Promiscuous) : ([], false); }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            Port.Changed -= OnPortChanged;
            _open?.Dispose();
            _open = null;
        }
    }
}
