// The per-lower state (the kernel's struct macvlan_port, spec 1.2) and every configuration
// rule of spec 1 and 4: MAC uniqueness, passthru, modes, source lists, broadcast-queue
// settings, MTU, the host port (one per lower, never beside passthru) and lower events (Port.LowerEvents.cs; the rules' checks in Port.Rules.cs). Each
// change is validated whole before anything is applied (the kernel applies changelink
// partially, quirk Q14), then a new ForwardingTable is published
// and the adapters are told (Changed), outside the port's lock (PortEventQueue).
//
// One change needs the real device: a passthru endpoint's MAC is the lower's (spec 4.4). The
// device may refuse it, so it is set first, outside the lock, through LowerMacApplier, and the
// change is applied only once the device took it; other changes of the port wait meanwhile
// (readers and the datapath do not), so the validation still holds when it is applied.
using Mvtap.Core.Forwarding;
using Mvtap.Core.Frames;

namespace Mvtap.Core.Model;

public sealed partial class Port
{
    public const uint DefaultBcQueueLen = 1000;
    public const int DefaultBcCutoff = 1;
    public const int MinMtu = 68;

    private readonly object _gate = new();
    private readonly List<Endpoint> _endpoints = [];
    private readonly Random _random;
    private readonly PortEventQueue _events = new();
    private ForwardingTable _table;
    private int _slots;
    // A change is setting the lower's MAC outside the lock; other changes wait for it (Monitor on _gate).
    private bool _lowerMacChanging;

    public Port(LowerDevice lower, Random? random = null, TimeProvider? clock = null)
    {
        Lower = lower;
        Defragmenter = new Ipv4Defragmenter(Counters, clock);
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
    /// <summary>Tests only: a forwarding rule to get wrong on purpose (see ForwardingFault).</summary>
    internal ForwardingFault Fault { get; set; }

    /// <summary>The table the datapath forwards with; replaced whole on every change.</summary>
    public ForwardingTable Table => Volatile.Read(ref _table);

    /// <summary>Raised after every published change, outside the port's lock, in order and one
    /// handler call at a time; a change returns once its handlers have run (PortEventQueue). A handler
    /// reads the port's current state; it must not take a lock that a thread changing the port may
    /// hold. An exception that escapes a handler reaches the thread that ran it.</summary>
    public event Action<Port>? Changed;

    /// <summary>Sets the real lower device's MAC (passthru, spec 4.4), called outside the port's lock
    /// before the change that needs it is applied; throws (a MvtapException with the device's errno)
    /// when the device refuses, and the change is then refused whole. When the last endpoint goes,
    /// the lower's MAC is put back through it and a failure is ignored, as the kernel ignores it
    /// (macvlan_port_destroy): the applier reports its own failures. Null: the model's MAC only.</summary>
    public Action<MacAddress>? LowerMacApplier { get; set; }

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
        Endpoint ep;
        long change;
        lock (_gate)
        {
            WaitForLowerMac();
            if (_endpoints.Exists(e => e.Name == s.Name))
                throw new MvtapException(Errno.EEXIST, $"an endpoint named {s.Name} already exists");
            if (!EndpointModes.IsDefined(s.Mode))
                throw new MvtapException(Errno.EINVAL, $"mode {(uint)s.Mode} is not a macvlan mode");
            ValidateFlags(s.Flags);
            if (s.Mac is { } m && !m.IsValidUnicast)
                throw new MvtapException(Errno.EADDRNOTAVAIL, $"address {m} is not a valid unicast address");
            int mtu = s.Mtu ?? Lower.Mtu;
            ValidateMtu(mtu);
            if (IsPassthru)
                throw new MvtapException(Errno.EINVAL, $"{Lower.Name} is owned by a passthru endpoint");
            if (s.Mode == EndpointMode.Passthru && _endpoints.Find(e => e.IsHostPort) is { } hostPort)
                throw new MvtapException(Errno.EBUSY, $"passthru needs {Lower.Name} to itself, and {hostPort.Name} is its host port");
            if (s.Mode == EndpointMode.Passthru && _endpoints.Count != 0)
                throw new MvtapException(Errno.EINVAL, $"passthru needs {Lower.Name} to have no other endpoints");
            if (s.IsHostPort) ValidateHostPort(s);
            ValidateSources(s.Mode, s.MacaddrOp, s.Macaddr, s.MacaddrData);

            if (_endpoints.Count == 0) PermanentMac = Lower.Mac;
            MacAddress mac = s.Mode == EndpointMode.Passthru ? Lower.Mac : s.Mac ?? MacAddress.Random(_random);
            // the host port is a bridge endpoint to whatever has hostaccess off (HostPortRules)
            var mode = s.IsHostPort ? EndpointMode.Bridge : s.Mode;
            ep = new Endpoint(this, FreeSlot(), s.Name, mac, mode, s.Flags, mtu, s.IsHostPort)
            {
                BcQueueLenRequest = s.BcQueueLen ?? DefaultBcQueueLen,
                SpoofCheck = s.SpoofCheck,
                HostAccess = s.HostAccess && !s.IsHostPort,
            };
            if (s.Mode == EndpointMode.Passthru) IsPassthru = true;
            if (s.BcCutoff is { } cutoff) BcCutoff = cutoff;
            if (s.MacaddrOp is { } op) ApplySources(ep, op, s.Macaddr, s.MacaddrData);
            _endpoints.Add(ep);
            change = Publish();
        }
        Raise(change);
        return ep;
    }

    public void Delete(Endpoint ep)
    {
        long change;
        MacAddress? restore = null;
        lock (_gate)
        {
            WaitForLowerMac();
            if (!_endpoints.Remove(ep)) throw NotOurs(ep);
            ep.IsUp = false;
            ep.IsDeleted = true;
            ep.SourceMacs.Clear();
            if (_endpoints.Count == 0)
            {
                // spec 1.2: the port goes with its last endpoint; passthru restores the MAC (4.4)
                if (IsPassthru && Lower.Mac != PermanentMac)
                {
                    if (LowerMacApplier is null) Lower.Mac = PermanentMac;
                    else (restore, _lowerMacChanging) = (PermanentMac, true);
                }
                IsPassthru = false;
                BcCutoff = DefaultBcCutoff;
            }
            change = Publish();
        }
        // the kernel ignores a failure to restore it too; the applier has reported it
        if (restore is { } mac) change = SetLowerMacBesides(mac, restored => { if (restored) Lower.Mac = mac; });
        Raise(change);
    }

    // ---- changelink / setlink ------------------------------------------------------------

    public void SetUp(Endpoint ep, bool up) => Change(ep, new EndpointChange { Up = up });
    public void SetMac(Endpoint ep, MacAddress mac) => Change(ep, new EndpointChange { Mac = mac });
    public void SetMode(Endpoint ep, EndpointMode mode) => Change(ep, new EndpointChange { Mode = mode });

    public void Change(Endpoint ep, EndpointChange c)
    {
        long change = 0;
        ChangeTarget to;
        bool deviceFirst;
        lock (_gate)
        {
            WaitForLowerMac();
            to = ValidateChange(ep, c);
            // spec 4.4: the lower's MAC follows a passthru endpoint's, and the device goes first
            deviceFirst = IsPassthru && to.Mac != ep.Mac && LowerMacApplier is not null;
            if (deviceFirst) _lowerMacChanging = true;
            else change = ApplyChange(ep, c, to);
        }
        if (deviceFirst) change = ApplyAfterLowerMac(ep, c, to);
        Raise(change);
    }

    // Sets the lower's MAC outside the lock, then applies the change; nothing is applied if the
    // device refuses. No other change of the port ran meanwhile (they wait for _lowerMacChanging),
    // so the validation still holds.
    private long ApplyAfterLowerMac(Endpoint ep, EndpointChange c, ChangeTarget to)
    {
        try
        {
            LowerMacApplier!(to.Mac);
        }
        catch
        {
            lock (_gate)
            {
                _lowerMacChanging = false;
                Monitor.PulseAll(_gate);
            }
            throw;
        }
        lock (_gate)
        {
            _lowerMacChanging = false;
            Monitor.PulseAll(_gate); // the waiters go on once this section has applied the change
            return ApplyChange(ep, c, to);
        }
    }

    // Under _gate, after ValidateChange. Applied in the kernel's order: mode check (leaving SOURCE
    // flushes), flags, bc queue length, cutoff, mode, source list; then address, MTU, state.
    private long ApplyChange(Endpoint ep, EndpointChange c, ChangeTarget to)
    {
        if (ep.Mode == EndpointMode.Source && to.Mode != EndpointMode.Source) ep.SourceMacs.Clear();
        if (c.Flags is { } f) ep.Flags = f;
        if (c.BcQueueLen is { } bql) ep.BcQueueLenRequest = bql;
        if (c.BcCutoff is { } cutoff) BcCutoff = cutoff;
        ep.Mode = to.Mode;
        if (c.MacaddrOp is { } op) ApplySources(ep, op, c.Macaddr, c.MacaddrData);
        if (to.Mac != ep.Mac)
        {
            if (IsPassthru) Lower.Mac = to.Mac; // spec 4.4: the lower's MAC follows (set on the device already)
            ep.Mac = to.Mac;
        }
        if (c.Mtu is { } m) ep.Mtu = m;
        if (c.SpoofCheck is { } sc) ep.SpoofCheck = sc;
        if (c.AllMulti is { } am) ep.AllMulti = am;
        if (c.Promisc is { } pr) ep.Promisc = pr;
        if (c.HostAccess is { } ha) ep.HostAccess = ha;
        if (c.JoinGroups is { } join) foreach (var g in join) if (g.IsMulticast) ep.Groups.Add(g);
        if (c.LeaveGroups is { } leave) foreach (var g in leave) ep.Groups.Remove(g);
        ep.IsUp = to.Up;
        return Publish();
    }

    public void Rename(Endpoint ep, string name) => Update(() =>
    {
        if (!_endpoints.Contains(ep)) throw NotOurs(ep);
        if (_endpoints.Exists(e => e != ep && e.Name == name))
            throw new MvtapException(Errno.EEXIST, $"an endpoint named {name} already exists");
        ep.Name = name;
    });

    public void JoinGroup(Endpoint ep, MacAddress group)
    {
        if (!group.IsMulticast) throw new MvtapException(Errno.EINVAL, $"{group} is not a multicast address");
        Change(ep, new EndpointChange { JoinGroups = [group] });
    }

    public void LeaveGroup(Endpoint ep, MacAddress group) => Change(ep, new EndpointChange { LeaveGroups = [group] });

    // A change that needs no device: applied under the lock, published, then its handlers run.
    private void Update(Action apply)
    {
        long change;
        lock (_gate)
        {
            WaitForLowerMac();
            apply();
            change = Publish();
        }
        Raise(change);
    }

    // Outside _gate, with _lowerMacChanging set by the caller: asks the device for <paramref name="mac"/>
    // without failing the caller (the applier reports a refusal), then, under _gate again, lets the
    // waiting changes go and publishes what <paramref name="then"/> makes of the outcome.
    private long SetLowerMacBesides(MacAddress mac, Action<bool> then)
    {
        bool applied = false;
        try
        {
            LowerMacApplier!(mac);
            applied = true;
        }
        catch (Exception)
        {
            // reported by the applier; the caller decides what the port makes of it
        }
        lock (_gate)
        {
            _lowerMacChanging = false;
            Monitor.PulseAll(_gate);
            then(applied);
            return Publish();
        }
    }

    // Under _gate: a change of the port waits while another one sets the lower's MAC.
    private void WaitForLowerMac()
    {
        while (_lowerMacChanging) Monitor.Wait(_gate);
    }

    private int FreeSlot()
    {
        for (int s = 0; s < _slots; s++)
            if (!_endpoints.Exists(e => e.Slot == s)) return s;
        return _slots++;
    }

    private MvtapException NotOurs(Endpoint ep) =>
        new(Errno.ENODEV, $"{ep.Name} is not an endpoint of {Lower.Name}");

    // Under _gate: the new table for the datapath; returns the change's number for Raise.
    private long Publish()
    {
        BcQueueLenUsed = _endpoints.Count == 0 ? 0 : _endpoints.Max(e => e.BcQueueLenRequest);
        Volatile.Write(ref _table, new ForwardingTable(this, _endpoints, _slots));
        return _events.Enqueue();
    }

    // Outside _gate: the adapters hear of the change (and of any before it).
    private void Raise(long change) => _events.Drain(change, this, () => Changed);
}
