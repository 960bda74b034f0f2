// The per-lower state (the kernel's struct macvlan_port, spec 1.2) and every configuration
// rule of spec 1 and 4: MAC uniqueness, passthru, modes, source lists, broadcast-queue
// settings, MTU and lower events. Each change is validated whole before anything is applied
// (the kernel applies changelink partially, quirk Q14), then a new ForwardingTable is published.
using Mvtap.Core.Forwarding;
using Mvtap.Core.Frames;

namespace Mvtap.Core.Model;

public sealed class Port
{
    public const uint DefaultBcQueueLen = 1000;
    public const int DefaultBcCutoff = 1;
    public const int MinMtu = 68;

    private readonly object _gate = new();
    private readonly List<Endpoint> _endpoints = [];
    private readonly Random _random;
    private ForwardingTable _table;
    private int _slots;

    public Port(LowerDevice lower, Random? random = null, TimeProvider? clock = null)
    {
        Lower = lower;
        Defragmenter = new Ipv4Defragmenter(clock);
        _random = random ?? Random.Shared;
        PermanentMac = lower.Mac;
        _table = new ForwardingTable(this, _endpoints, 0);
    }

    public LowerDevice Lower { get; }
    public PortCounters Counters { get; } = new();
    public BroadcastQueue BroadcastQueue { get; } = new();
    /// <summary>Reassembles multicast IPv4 fragments (spec 3.8); used by the datapath thread only.</summary>
    public Ipv4Defragmenter Defragmenter { get; }
    public bool IsPassthru { get; private set; }
    public int BcCutoff { get; private set; } = DefaultBcCutoff;
    /// <summary>spec 1.6: the largest request of any endpoint, down ones included; 0 if none.</summary>
    public uint BcQueueLenUsed { get; private set; }
    /// <summary>The lower's MAC when the port was created; passthru restores it (spec 4.4).</summary>
    public MacAddress PermanentMac { get; private set; }

    /// <summary>The table the datapath forwards with; replaced whole on every change.</summary>
    public ForwardingTable Table => Volatile.Read(ref _table);

    /// <summary>Raised (under the port's lock) after every published change.</summary>
    public event Action<Port>? Changed;

    /// <summary>Raised when the core changes the lower's MAC (passthru, spec 4.4); the
    /// adapter applies it to the real device.</summary>
    public event Action<MacAddress>? LowerMacChangeRequested;

    public IReadOnlyList<Endpoint> Endpoints { get { lock (_gate) return [.. _endpoints]; } }

    public Endpoint? Find(string name)
    {
        lock (_gate) return _endpoints.Find(e => e.Name == name);
    }

    /// <summary>MACs the lower must accept (PACKET_MR_UNICAST / dev_uc_add, spec 4.2).</summary>
    public IReadOnlyList<MacAddress> UnicastFilter
    {
        get { lock (_gate) return [.. _endpoints.Where(e => e.IsUp && e.Mode != EndpointMode.Passthru).Select(e => e.Mac)]; }
    }

    // ---- newlink / dellink -------------------------------------------------------------

    public Endpoint Create(EndpointSettings s)
    {
        lock (_gate)
        {
            if (_endpoints.Exists(e => e.Name == s.Name))
                throw new MvtapException(Errno.EEXIST, $"an endpoint named {s.Name} already exists");
            if (!EndpointModeNames.IsDefined(s.Mode))
                throw new MvtapException(Errno.EINVAL, $"mode {(uint)s.Mode} is not a macvlan mode");
            ValidateFlags(s.Flags);
            if (s.Mac is { } m && !m.IsValidUnicast)
                throw new MvtapException(Errno.EADDRNOTAVAIL, $"address {m} is not a valid unicast address");
            int mtu = s.Mtu ?? Lower.Mtu;
            ValidateMtu(mtu);
            if (IsPassthru)
                throw new MvtapException(Errno.EINVAL, $"{Lower.Name} is owned by a passthru endpoint");
            if (s.Mode == EndpointMode.Passthru && _endpoints.Count != 0)
                throw new MvtapException(Errno.EINVAL, $"passthru needs {Lower.Name} to have no other endpoints");
            ValidateSources(s.Mode, s.MacaddrOp, s.Macaddr, s.MacaddrData);

            if (_endpoints.Count == 0) PermanentMac = Lower.Mac;
            MacAddress mac = s.Mode == EndpointMode.Passthru ? Lower.Mac : s.Mac ?? MacAddress.Random(_random);
            var ep = new Endpoint(this, FreeSlot(), s.Name, mac, s.Mode, s.Flags, mtu)
            {
                BcQueueLenRequest = s.BcQueueLen ?? DefaultBcQueueLen,
                SpoofCheck = s.SpoofCheck,
            };
            if (s.Mode == EndpointMode.Passthru) IsPassthru = true;
            if (s.BcCutoff is { } cutoff) BcCutoff = cutoff;
            if (s.MacaddrOp is { } op) ApplySources(ep, op, s.Macaddr, s.MacaddrData);
            _endpoints.Add(ep);
            Publish();
            return ep;
        }
    }

    public void Delete(Endpoint ep)
    {
        lock (_gate)
        {
            if (!_endpoints.Remove(ep)) throw NotOurs(ep);
            ep.IsUp = false;
            ep.IsDeleted = true;
            ep.SourceMacs.Clear();
            if (_endpoints.Count == 0)
            {
                // spec 1.2: the port goes with its last endpoint; passthru restores the MAC (4.4)
                if (IsPassthru && Lower.Mac != PermanentMac) SetLowerMacInternal(PermanentMac);
                IsPassthru = false;
                BcCutoff = DefaultBcCutoff;
            }
            Publish();
        }
    }

    // ---- changelink / setlink ------------------------------------------------------------

    public void SetUp(Endpoint ep, bool up) => Change(ep, new EndpointChange { Up = up });
    public void SetMac(Endpoint ep, MacAddress mac) => Change(ep, new EndpointChange { Mac = mac });
    public void SetMode(Endpoint ep, EndpointMode mode) => Change(ep, new EndpointChange { Mode = mode });

    public void Change(Endpoint ep, EndpointChange c)
    {
        lock (_gate)
        {
            if (!_endpoints.Contains(ep)) throw NotOurs(ep);
            var mode = c.Mode ?? ep.Mode;
            if (!EndpointModeNames.IsDefined(mode))
                throw new MvtapException(Errno.EINVAL, $"mode {(uint)mode} is not a macvlan mode");
            if (mode != ep.Mode && (mode == EndpointMode.Passthru || ep.Mode == EndpointMode.Passthru))
                throw new MvtapException(Errno.EINVAL, "the mode cannot be changed to or from passthru");
            if (c.Flags is { } flags) ValidateFlags(flags);
            if (c.Mtu is { } mtu) ValidateMtu(mtu);
            // spec 6: MACADDR_MODE is checked against the mode after this message's mode change
            ValidateSources(mode, c.MacaddrOp, c.Macaddr, c.MacaddrData);
            var mac = c.Mac ?? ep.Mac;
            if (c.Mac is { } newMac && newMac != ep.Mac) ValidateNewMac(ep, newMac);
            bool up = c.Up ?? ep.IsUp;
            if (up && !ep.IsUp && !IsPassthru && IsAddressBusy(mac, ep))
                throw new MvtapException(Errno.EADDRINUSE, BusyMessage(mac, ep));

            // Apply in the kernel's order: mode check (leaving SOURCE flushes), flags, bc
            // queue length, cutoff, mode, source list; then address, MTU, state.
            if (ep.Mode == EndpointMode.Source && mode != EndpointMode.Source) ep.SourceMacs.Clear();
            if (c.Flags is { } f) ep.Flags = f;
            if (c.BcQueueLen is { } bql) ep.BcQueueLenRequest = bql;
            if (c.BcCutoff is { } cutoff) BcCutoff = cutoff;
            ep.Mode = mode;
            if (c.MacaddrOp is { } op) ApplySources(ep, op, c.Macaddr, c.MacaddrData);
            if (mac != ep.Mac)
            {
                if (IsPassthru) SetLowerMacInternal(mac); // spec 4.4: the lower's MAC follows
                ep.Mac = mac;
            }
            if (c.Mtu is { } m) ep.Mtu = m;
            if (c.SpoofCheck is { } sc) ep.SpoofCheck = sc;
            if (c.AllMulti is { } am) ep.AllMulti = am;
            if (c.Promisc is { } pr) ep.Promisc = pr;
            if (c.JoinGroups is { } join) foreach (var g in join) if (g.IsMulticast) ep.Groups.Add(g);
            if (c.LeaveGroups is { } leave) foreach (var g in leave) ep.Groups.Remove(g);
            ep.IsUp = up;
            Publish();
        }
    }

    public void Rename(Endpoint ep, string name)
    {
        lock (_gate)
        {
            if (!_endpoints.Contains(ep)) throw NotOurs(ep);
            if (_endpoints.Exists(e => e != ep && e.Name == name))
                throw new MvtapException(Errno.EEXIST, $"an endpoint named {name} already exists");
            ep.Name = name;
            Publish();
        }
    }

    public void JoinGroup(Endpoint ep, MacAddress group)
    {
        if (!group.IsMulticast) throw new MvtapException(Errno.EINVAL, $"{group} is not a multicast address");
        Change(ep, new EndpointChange { JoinGroups = [group] });
    }

    public void LeaveGroup(Endpoint ep, MacAddress group) => Change(ep, new EndpointChange { LeaveGroups = [group] });

    // ---- lower events (spec 4.3, 4.4, 4.5) ------------------------------------------------

    /// <summary>The lower's MAC changed outside mvtap. A passthru endpoint follows it and the
    /// new MAC becomes the one to restore (spec 4.4, A16).</summary>
    public void OnLowerMacChanged(MacAddress mac)
    {
        lock (_gate)
        {
            Lower.Mac = mac;
            if (IsPassthru)
            {
                PermanentMac = mac;
                foreach (var ep in _endpoints) ep.Mac = mac;
            }
            Publish();
        }
    }

    /// <summary>spec 4.3: a lower MTU decrease clamps endpoints; an increase leaves them.</summary>
    public void OnLowerMtuChanged(int mtu)
    {
        lock (_gate)
        {
            Lower.Mtu = mtu;
            foreach (var ep in _endpoints) if (ep.Mtu > mtu) ep.Mtu = mtu;
            Publish();
        }
    }

    /// <summary>spec 4.5: endpoints keep their admin state and lose carrier with the lower.</summary>
    public void OnLowerStateChanged(bool up, bool carrier)
    {
        lock (_gate)
        {
            Lower.IsUp = up;
            Lower.HasCarrier = carrier;
            Publish();
        }
    }

    /// <summary>The lower was renamed; it is the same device (followed by its index).</summary>
    public void OnLowerRenamed(string name)
    {
        lock (_gate)
        {
            Lower.Name = name;
            Publish();
        }
    }

    /// <summary>The lower was opened anew (it came back after a deletion, or was followed into
    /// another namespace): its facts are the new device's. The endpoints keep their configuration;
    /// MTUs above the new lower's are clamped (spec 4.3). A passthru port keeps its endpoint's MAC
    /// and asks for it on the new device (spec 4.4), which becomes the MAC to restore.</summary>
    public void OnLowerReplaced(MacAddress mac, int mtu, int maxMtu, bool supportsUnicastFilter, bool up, bool carrier)
    {
        lock (_gate)
        {
            Lower.MaxMtu = maxMtu;
            Lower.SupportsUnicastFilter = supportsUnicastFilter;
            Lower.Mtu = mtu;
            foreach (var ep in _endpoints) if (ep.Mtu > mtu) ep.Mtu = mtu;
            Lower.IsUp = up;
            Lower.HasCarrier = carrier;
            PermanentMac = mac;
            if (IsPassthru && mac != Lower.Mac) SetLowerMacInternal(Lower.Mac);
            else Lower.Mac = mac;
            Publish();
        }
    }

    /// <summary>The lower's own promiscuity/allmulti (tcpdump, the host), spec 1.5.</summary>
    public void OnLowerPromiscuityChanged(int ownPromiscuity, int ownAllMulti)
    {
        lock (_gate)
        {
            Lower.OwnPromiscuity = ownPromiscuity;
            Lower.OwnAllMulti = ownAllMulti;
            Publish();
        }
    }

    // ---- rules --------------------------------------------------------------------------

    /// <summary>spec 4.1 macvlan_addr_busy: the lower's MAC (not on a passthru port) or the
    /// MAC of any other up endpoint.</summary>
    private bool IsAddressBusy(MacAddress mac, Endpoint self) =>
        (!IsPassthru && mac == Lower.Mac) || _endpoints.Exists(e => e != self && e.IsUp && e.Mac == mac);

    private string BusyMessage(MacAddress mac, Endpoint self)
    {
        var other = _endpoints.Find(e => e != self && e.IsUp && e.Mac == mac);
        return $"address {mac} is in use by {(other is null ? Lower.Name : other.Name)}";
    }

    private void ValidateNewMac(Endpoint ep, MacAddress mac)
    {
        if (!mac.IsValidUnicast)
            throw new MvtapException(Errno.EADDRNOTAVAIL, $"address {mac} is not a valid unicast address");
        if (!IsPassthru && IsAddressBusy(mac, ep))
            throw new MvtapException(Errno.EADDRINUSE, BusyMessage(mac, ep));
    }

    private static void ValidateFlags(EndpointFlags flags)
    {
        if ((flags & ~(EndpointFlags.NoPromisc | EndpointFlags.NoDst)) != 0)
            throw new MvtapException(Errno.EINVAL, $"flags 0x{(ushort)flags:x} has unknown bits");
    }

    private void ValidateMtu(int mtu)
    {
        if (mtu < MinMtu || mtu > Lower.Mtu)
            throw new MvtapException(Errno.EINVAL, $"mtu {mtu} is outside {MinMtu}..{Lower.Mtu} (the mtu of {Lower.Name})");
    }

    /// <summary>spec 1.7 and macvlan_validate: list operations only in SOURCE mode, ADD/DEL
    /// need an address, every address a valid unicast one.</summary>
    private static void ValidateSources(EndpointMode mode, MacaddrOperation? op, MacAddress? mac, IReadOnlyList<MacAddress>? data)
    {
        if (op is null)
        {
            if (mac is not null || data is not null)
                throw new MvtapException(Errno.EINVAL, "macaddr needs an operation (add, del, set or flush)");
            return;
        }
        if (op is not (MacaddrOperation.Add or MacaddrOperation.Delete or MacaddrOperation.Flush or MacaddrOperation.Set))
            throw new MvtapException(Errno.EINVAL, $"macaddr operation {(uint)op} is unknown");
        if (mode != EndpointMode.Source)
            throw new MvtapException(Errno.EINVAL, "macaddr lists need mode source");
        if (op is MacaddrOperation.Add or MacaddrOperation.Delete && mac is null)
            throw new MvtapException(Errno.EINVAL, $"macaddr {(op == MacaddrOperation.Add ? "add" : "del")} needs an address");
        if (mac is { } m && !m.IsValidUnicast)
            throw new MvtapException(Errno.EADDRNOTAVAIL, $"address {m} is not a valid unicast address");
        foreach (var d in data ?? [])
            if (!d.IsValidUnicast)
                throw new MvtapException(Errno.EADDRNOTAVAIL, $"address {d} is not a valid unicast address");
    }

    private static void ApplySources(Endpoint ep, MacaddrOperation op, MacAddress? mac, IReadOnlyList<MacAddress>? data)
    {
        var list = ep.SourceMacs;
        switch (op)
        {
            case MacaddrOperation.Add:
                if (!list.Contains(mac!.Value)) list.Add(mac.Value); // duplicate add is a no-op
                break;
            case MacaddrOperation.Delete:
                list.Remove(mac!.Value); // absent address: success (spec 1.7)
                break;
            case MacaddrOperation.Flush:
                list.Clear();
                break;
            case MacaddrOperation.Set:
                list.Clear();
                if (mac is { } m) list.Add(m);
                foreach (var d in data ?? []) if (!list.Contains(d)) list.Add(d);
                break;
        }
    }

    private void SetLowerMacInternal(MacAddress mac)
    {
        Lower.Mac = mac;
        LowerMacChangeRequested?.Invoke(mac);
    }

    private int FreeSlot()
    {
        for (int s = 0; s < _slots; s++)
            if (!_endpoints.Exists(e => e.Slot == s)) return s;
        return _slots++;
    }

    private MvtapException NotOurs(Endpoint ep) =>
        new(Errno.ENODEV, $"{ep.Name} is not an endpoint of {Lower.Name}");

    private void Publish()
    {
        BcQueueLenUsed = _endpoints.Count == 0 ? 0 : _endpoints.Max(e => e.BcQueueLenRequest);
        Volatile.Write(ref _table, new ForwardingTable(this, _endpoints, _slots));
        Changed?.Invoke(this);
    }
}
