// Every endpoint mvtapd holds, by name and index, and the lower hosts that carry them. It
// carries out the control requests (link add/set/del/show) with the core's rules, saves the
// state after each change and restores it on start. One lock serialises the control plane;
// the datapath never takes it (it reads the ports' published tables).
using Microsoft.Extensions.Logging;
using Mvtap.Control;
using Mvtap.Core.Model;
using Mvtap.Daemon.Lowers;
using Mvtap.Daemon.State;

namespace Mvtap.Daemon.Links;

public sealed partial class LinkRegistry : IDisposable
{
    private readonly object _gate = new();
    // by the lower's current name (a lower renamed by the system keeps its host)
    private readonly List<ILowerHost> _lowers = [];
    private readonly List<EndpointRecord> _records = [];
    private readonly Func<string, ILowerHost?> _openPacketLower;
    private readonly StateStore? _store;
    private readonly ILogger _log;
    private readonly string _runDir;
    private int _nextIndex = 1;

    /// <param name="openPacketLower">Opens a real interface as a lower; null when it does not exist.</param>
    public LinkRegistry(Func<string, ILowerHost?> openPacketLower, StateStore? store, ILogger log, string runDir)
    {
        _openPacketLower = openPacketLower;
        _store = store;
        _log = log;
        _runDir = runDir;
    }

    public ControlResponse Handle(ControlRequest request)
    {
        try
        {
            lock (_gate)
            {
                var response = request switch
                {
                    LinkAddRequest add => Add(add),
                    LinkSetRequest set => Set(set),
                    LinkDelRequest del => Delete(del),
                    LinkShowRequest show => Show(show),
                    _ => ControlResponse.Failure((int)Errno.EOPNOTSUPP, "unknown request"),
                };
                if (response.Ok && request is not LinkShowRequest) Save();
                return response;
            }
        }
        catch (MvtapException e)
        {
            return ControlResponse.Failure((int)e.Errno, e.Message);
        }
    }

    /// <summary>`mvtap run`: a kernel TAP relayed into the macvtap endpoint, for a client that is root,
    /// the endpoint's owner or in its group. The response is `link show NAME`'s; the caller sends the
    /// TAP's descriptor after it and closes the TapDevice.</summary>
    public (ControlResponse Response, Linux.TapDevice? Tap) OpenTap(TapFdRequest request, uint uid, uint gid)
    {
        try
        {
            lock (_gate)
            {
                var record = Require(request.Name);
                if (record.Kind != EndpointKind.Macvtap)
                    throw new MvtapException(Errno.EINVAL, $"{record.Name} is a {record.TypeName} link: only macvtap endpoints have a tap");
                bool owner = record.Owner is { } o && Attachments.Accounts.Uid(o) == (int)uid;
                bool group = record.Group is { } g && Attachments.Accounts.Gid(g) == (int)gid;
                if (uid != 0 && !owner && !group)
                    throw new MvtapException(Errno.EPERM, $"Operation not permitted: {record.Name}'s tap belongs to its owner and group");
                var tap = record.Lower.OpenTap(record.Endpoint);
                _log.LogInformation("{Name}: tap {Tap} relayed for a client (uid {Uid})", record.Name, tap.Name, uid);
                return (ControlResponse.Success([View(record)]), tap);
            }
        }
        catch (MvtapException e)
        {
            return (ControlResponse.Failure((int)e.Errno, e.Message), null);
        }
    }

    // ---- add ------------------------------------------------------------------------------

    private ControlResponse Add(LinkAddRequest r) => ControlResponse.Success([View(Create(r, index: null))]);

    private EndpointRecord Create(LinkAddRequest r, int? index)
    {
        var kind = RequestValues.Kind(r.Type);
        var name = r.Name ?? FreeName(kind == EndpointKind.Macvtap ? "macvtap" : "macvlan");
        RequestValues.Name(name);
        if (FindRecord(name) is not null)
            throw new MvtapException(Errno.EEXIST, $"a link named {name} already exists");
        var lower = LowerFor(r.Lower);
        var mode = r.Mode is null ? EndpointMode.Vepa : RequestValues.Mode(r.Mode);
        var op = r.MacaddrOperation is null ? (MacaddrOperation?)null : RequestValues.MacaddrOp(r.MacaddrOperation);
        var (single, list) = op is { } o ? RequestValues.Macaddrs(o, r.Macaddrs) : (null, null);
        var settings = new EndpointSettings
        {
            Name = name,
            Mac = r.Address is null ? null : RequestValues.Mac(r.Address),
            Mode = mode,
            Flags = RequestValues.Flags(r.Flags ?? []),
            Mtu = r.Mtu,
            BcQueueLen = r.BcQueueLen,
            BcCutoff = r.BcCutoff,
            MacaddrOp = op,
            Macaddr = single,
            MacaddrData = list,
            SpoofCheck = r.SpoofCheck ?? true,
        };
        var ep = lower.AddEndpoint(settings, kind, r.Netns);
        var record = new EndpointRecord(index ?? _nextIndex, kind, lower, ep)
        {
            TxQueueLen = r.TxQueueLen ?? 500,
            Owner = r.Owner,
            Group = r.Group,
            Netns = r.Netns,
        };
        try
        {
            if (kind == EndpointKind.Macvtap) lower.OpenAttachmentPoints(ep, record.Index, r.Owner, r.Group, _runDir);
            if (r.Up == true)
            {
                lower.Port.SetUp(ep, true);
                lower.EndpointChanged(ep);
            }
        }
        catch
        {
            // ip sends add+up in one request: a refused up (or owner) leaves nothing behind
            RemoveFromLower(record);
            throw;
        }
        _records.Add(record);
        _nextIndex = Math.Max(_nextIndex, record.Index + 1);
        _log.LogInformation("added {Type} {Name} (index {Index}) on {Lower}: {Mac} mode {Mode}",
            record.TypeName, name, record.Index, lower.Name, ep.Mac, ep.Mode.Name());
        return record;
    }

    private ILowerHost LowerFor(string name)
    {
        if (string.IsNullOrEmpty(name)) throw new MvtapException(Errno.EINVAL, "a link needs a lower device (link LOWER)");
        // spec A09: an endpoint on top of an endpoint attaches to the real lower
        if (FindRecord(name) is { } upper) return upper.Lower;
        if (_lowers.Find(l => l.Name == name) is { } held)
        {
            // a lower that is gone (or out of reach) keeps its endpoints, but takes no new ones
            if (!held.Health.IsOpen) throw new MvtapException(Errno.ENODEV, $"Cannot find device \"{name}\"");
            return held;
        }
        var host = _openPacketLower(name) ?? (SimLowerHost.IsSimName(name) ? new SimLowerHost(name) : null);
        if (host is null) throw new MvtapException(Errno.ENODEV, $"Cannot find device \"{name}\"");
        _lowers.Add(host);
        host.Port.Changed += OnPortChanged;
        return host;
    }

    private string FreeName(string prefix)
    {
        for (int i = 0; ; i++)
            if (FindRecord($"{prefix}{i}") is null) return $"{prefix}{i}";
    }

    // ---- set / del / show ---------------------------------------------------------------------

    private ControlResponse Set(LinkSetRequest r)
    {
        var record = Require(r.Name);
        var ep = record.Endpoint;
        if (r.NewName is { } newName && newName != ep.Name)
        {
            RequestValues.Name(newName);
            if (FindRecord(newName) is not null) throw new MvtapException(Errno.EEXIST, $"a link named {newName} already exists");
        }
        var op = r.MacaddrOperation is null ? (MacaddrOperation?)null : RequestValues.MacaddrOp(r.MacaddrOperation);
        var (single, list) = op is { } o ? RequestValues.Macaddrs(o, r.Macaddrs) : (null, null);
        var change = new EndpointChange
        {
            Mac = r.Address is null ? null : RequestValues.Mac(r.Address),
            Up = r.Up,
            Mode = r.Mode is null ? null : RequestValues.Mode(r.Mode),
            Flags = r.Flags is null ? null : RequestValues.Flags(r.Flags),
            Mtu = r.Mtu,
            BcQueueLen = r.BcQueueLen,
            BcCutoff = r.BcCutoff,
            MacaddrOp = op,
            Macaddr = single,
            MacaddrData = list,
            SpoofCheck = r.SpoofCheck,
        };
        if (r.Netns is not null && record.Kind != EndpointKind.Macvlan)
            throw new MvtapException(Errno.EINVAL, $"{ep.Name} is a macvtap: only macvlan endpoints move to a namespace");
        record.Lower.Port.Change(ep, change);
        if (r.NewName is { } nn) record.Lower.Port.Rename(ep, nn);
        if (r.Netns is { } ns)
        {
            record.Lower.MoveToNamespace(ep, ns);
            record.Netns = ns;
        }
        if ((r.Owner is not null || r.Group is not null) && record.Kind == EndpointKind.Macvtap)
            record.Lower.OpenAttachmentPoints(ep, record.Index, r.Owner, r.Group, _runDir);
        if (r.Owner is not null) record.Owner = r.Owner;
        if (r.Group is not null) record.Group = r.Group;
        if (r.TxQueueLen is { } q) record.TxQueueLen = q;
        record.Lower.EndpointChanged(ep);
        return ControlResponse.Success([View(record)]);
    }

    private ControlResponse Delete(LinkDelRequest r)
    {
        var record = Require(r.Name);
        RemoveFromLower(record);
        _records.Remove(record);
        _log.LogInformation("deleted {Name} (index {Index})", record.Name, record.Index);
        return ControlResponse.Success();
    }

    private void RemoveFromLower(EndpointRecord record)
    {
        var lower = record.Lower;
        lower.RemoveEndpoint(record.Endpoint);
        if (lower.Port.Endpoints.Count == 0)
        {
            // spec 1.2: the port goes with its last endpoint
            _lowers.Remove(lower);
            lower.Port.Changed -= OnPortChanged;
            lower.Dispose();
        }
    }

    private ControlResponse Show(LinkShowRequest r)
    {
        if (r.Name is { } name) return ControlResponse.Success([View(Require(name))]);
        return ControlResponse.Success([.. _records.OrderBy(x => x.Index).Select(View)]);
    }

    private EndpointRecord? FindRecord(string name) => _records.Find(x => x.Name == name);

    private EndpointRecord Require(string name) =>
        FindRecord(name) ?? throw new MvtapException(Errno.ENODEV, $"Cannot find device \"{name}\"");

    private LinkView View(EndpointRecord record) => LinkViews.Build(record, _runDir);

    // ---- persistence ----------------------------------------------------------------------------

    public IReadOnlyList<EndpointRecord> Records { get { lock (_gate) return [.. _records]; } }

    public DaemonState Snapshot()
    {
        lock (_gate)
            return new DaemonState
            {
                NextIndex = _nextIndex,
                Endpoints = [.. _records.OrderBy(x => x.Index).Select(x => new EndpointState
                {
                    Index = x.Index,
                    Name = x.Name,
                    Type = x.TypeName,
                    Lower = x.Lower.Name,
                    Mac = x.Endpoint.Mac.ToString(),
                    Mode = x.Endpoint.Mode.Name(),
                    Flags = RequestValues.FlagNames(x.Endpoint.Flags),
                    Up = x.Endpoint.IsUp,
                    Mtu = x.Endpoint.Mtu,
                    TxQueueLen = x.TxQueueLen,
                    BcQueueLen = x.Endpoint.BcQueueLenRequest,
                    BcCutoff = x.Lower.Port.BcCutoff,
                    Macaddrs = [.. x.Endpoint.SourceList.Select(m => m.ToString())],
                    SpoofCheck = x.Endpoint.SpoofCheck,
                    Owner = x.Owner,
                    Group = x.Group,
                    Netns = x.Netns,
                }).Concat(_unrestored).OrderBy(e => e.Index)],
            };
    }

    private void Save()
    {
        if (_store is null) return;
        _store.Save(Snapshot());
    }

    // Not every change of an endpoint comes through Handle: a macvlan endpoint follows its own
    // interface (a container's `ip link set eth0 down` or `address`, see the Linux datapath's
    // InnerLinkFollower), and the lower's events change its port. Those reach the port directly, so
    // `link show` reads them from the endpoint at once; this saves them. Changed is raised under the
    // port's lock, which the control plane takes while holding _gate: so the save runs later on the
    // thread pool, and saves requested meanwhile are coalesced into it.
    private int _saveQueued;
    private bool _disposed;

    private void OnPortChanged(Port port)
    {
        if (_store is null || Interlocked.Exchange(ref _saveQueued, 1) == 1) return;
        ThreadPool.QueueUserWorkItem(_ =>
        {
            Volatile.Write(ref _saveQueued, 0);
            try
            {
                lock (_gate) if (!_disposed) Save();
            }
            catch (Exception e)
            {
                _log.LogError("cannot save the state after a change of an endpoint's interface: {Error}", e.Message);
            }
        });
    }

    /// <summary>Brings back every endpoint of a saved state, with its index. An endpoint that
    /// cannot be restored (its lower is gone) is logged and kept in the state file.</summary>
    public void Restore(DaemonState state)
    {
        lock (_gate)
        {
            _nextIndex = Math.Max(1, state.NextIndex);
            foreach (var e in state.Endpoints.OrderBy(e => e.Index))
            {
                try
                {
                    Create(RestoreRequest(e), e.Index);
                }
                catch (MvtapException ex)
                {
                    Unrestored(e, ex);
                    _log.LogError("cannot restore {Name} (index {Index}) on {Lower}: {Error}; it stays in the state file{Retry}", e.Name, e.Index, e.Lower, ex.Message,
                        ex.Errno == Errno.ENODEV ? $", and is restored when {e.Lower} appears" : "");
                }
            }
        }
    }

    private readonly List<EndpointState> _unrestored = [];

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            foreach (var lower in _lowers)
            {
                lower.Port.Changed -= OnPortChanged;
                lower.Dispose();
            }
            _lowers.Clear();
        }
    }
}
