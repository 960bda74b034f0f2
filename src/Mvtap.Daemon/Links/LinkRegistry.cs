// Every endpoint mvtapd holds, by name and index, and the lower hosts that carry them. It
// carries out the control requests (link add/set/del/show) with the core's rules. One lock
// serialises the control plane; the datapath never takes it (it reads the ports' published tables).
//
// Every acknowledged change is in state.json before it is answered, and a refused one leaves
// nothing behind, in the running daemon or on disk: an add is applied, saved, and taken back
// when the save fails; a delete is saved first, then applied; a set is applied and saved, and
// its old values are put back when the save fails (LinkRegistry.Set.cs). The client then gets
// the save's error ("cannot save …/state.json: No space left on device").
// Split by concern: this file (requests), LinkRegistry.Set.cs (set and its undo),
// LinkRegistry.State.cs (snapshot, saving, restore), LinkRegistry.LowerEvents.cs (what the system
// does to the lowers: late restores, a deleted lower's endpoints).
using Microsoft.Extensions.Logging;
using Mvtap.Control;
using Mvtap.Core.Model;
using Mvtap.Daemon.Lowers;
using Mvtap.Daemon.State;
using Mvtap.VhostUser.Memory;

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

    /// <summary>Carries out one request for a client with uid <paramref name="clientUid"/> (0: root, as
    /// every caller inside mvtapd is). A refusal, or a state that cannot be saved, is a failure response.</summary>
    public ControlResponse Handle(ControlRequest request, uint clientUid = 0)
    {
        try
        {
            lock (_gate)
            {
                return request switch
                {
                    LinkAddRequest add => Add(add, clientUid),
                    LinkSetRequest set => Set(set, clientUid),
                    LinkDelRequest del => Delete(del),
                    LinkShowRequest show => Show(show),
                    _ => ControlResponse.Failure((int)Errno.EOPNOTSUPP, "unknown request"),
                };
            }
        }
        catch (MvtapException e)
        {
            return ControlResponse.Failure((int)e.Errno, e.Message);
        }
        finally
        {
            if (request is not LinkShowRequest) EndpointsChanged?.Invoke();
        }
    }

    /// <summary>Raised after a request or an event of the system may have added, renamed, given another
    /// owner or deleted endpoints; on that thread, outside the control plane's lock.</summary>
    public event Action? EndpointsChanged;

    /// <summary>`mvtap run`: a kernel TAP relayed into the macvtap endpoint, for a client that is root,
    /// the endpoint's owner or in its group. The response is `link show NAME`'s; the caller sends the
    /// TAP's descriptor after it and closes the TapDevice.</summary>
    public (ControlResponse Response, Linux.TapDevice? Tap) OpenTap(TapFdRequest request, uint uid, uint gid)
    {
        try
        {
            lock (_gate)
            {
                RequestValues.Given(request.Name);
                var record = Require(request.Name);
                if (record.Kind != EndpointKind.Macvtap)
                    throw new MvtapException(Errno.EINVAL, $"{record.Name} is a {record.TypeName} link: only macvtap endpoints have a tap");
                if (record.TapName is { } own)
                    throw new MvtapException(Errno.EBUSY, $"{record.Name} is carried by its tap {own}: open that by name");
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

    private ControlResponse Add(LinkAddRequest r, uint clientUid)
    {
        // before a namespace is looked for: a host port has none
        if (r.Type == LinkWords.Host) HostPortRequestRules.Check(r, r.Name ?? "a host port");
        if (r.Netns is { } ns) r = r with { Netns = NamespaceArgument.Resolve(ns, clientUid) };
        int nextIndex = _nextIndex;
        var record = Create(r, index: null, clientUid);
        try
        {
            Save();
        }
        catch (Exception e)
        {
            // not saved, so not made: the endpoint (and its interface) goes again
            _log.LogError("{Name} (index {Index}) is not added after all: {Error}", record.Name, record.Index, e.Message);
            _records.Remove(record);
            _nextIndex = nextIndex;
            Undo(() => RemoveFromLower(record), $"remove {record.Name}, added but not saved");
            throw;
        }
        return ControlResponse.Success([View(record)]);
    }

    /// <param name="rootPeer">a `vhost-user connect` endpoint also serves a root frontend (null: when root asks).</param>
    private EndpointRecord Create(LinkAddRequest r, int? index, uint clientUid = 0, bool? rootPeer = null)
    {
        var kind = RequestValues.Kind(r.Type);
        var name = r.Name ?? FreeName(kind switch { EndpointKind.Macvtap => LinkWords.Macvtap, EndpointKind.Host => "mvhost", _ => LinkWords.Macvlan });
        RequestValues.Name(name, "name");
        if (FindRecord(name) is not null)
            throw new MvtapException(Errno.EEXIST, $"a link named {name} already exists");
        // a restored state file's netns was never resolved: it must still be a name under /run/netns
        if (r.Netns is { } netns) NamespaceArgument.CheckName(netns);
        var guestMemory = r.GuestMemory is null ? GuestMemoryPolicy.Sealed : RequestValues.GuestMemory(r.GuestMemory, kind, name);
        // whatever the lower (a sim lower never resolves them): a number must name an account
        if (r.Owner is { } owner && AccountNumbers.Refusal("user", owner) is { } badUser) throw new MvtapException(Errno.EINVAL, badUser);
        if (r.Group is { } group && AccountNumbers.Refusal("group", group) is { } badGroup) throw new MvtapException(Errno.EINVAL, badGroup);
        var innerName = AttachmentRequestRules.Check(r, kind, _records, clientUid);
        var lower = LowerFor(r.Lower);
        var mode = r.Mode is null ? EndpointMode.Vepa : RequestValues.Mode(r.Mode);
        if (kind == EndpointKind.Host) HostPortRequestRules.Check(r, name);
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
            IsHostPort = kind == EndpointKind.Host,
            HostAccess = r.HostAccess ?? true,
        };
        // a restore (index given) takes over the TAP its previous run left
        var ep = r.TapName is { } tap ? lower.AddTapEndpoint(settings, r.Netns, tap, r.Owner, r.Group, adopt: index is not null)
            : lower.AddEndpoint(settings, kind, r.Netns, innerName);
        var record = new EndpointRecord(index ?? _nextIndex, kind, lower, ep)
        {
            TxQueueLen = r.TxQueueLen ?? 500,
            Owner = r.Owner,
            Group = r.Group,
            Netns = r.Netns,
            GuestMemory = guestMemory,
            VhostUserPath = r.VhostUserPath,
            Cni = r.Cni,
            VhostUserConnect = r.VhostUserMode == VhostUserModes.Connect,
            VhostUserRootPeer = rootPeer ?? clientUid == 0,
            TapName = r.TapName,
        };
        try
        {
            if (kind == EndpointKind.Macvtap && r.TapName is null)
                lower.OpenAttachmentPoints(ep, record.Index, r.Owner, r.Group, _runDir, guestMemory, r.VhostUserPath,
                    record.VhostUserConnect, record.VhostUserRootPeer);
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
        if (string.IsNullOrEmpty(name)) throw new MvtapException(Errno.EINVAL, ControlRequest.NotGiven("link"));
        RequestValues.Name(name, "link");
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
        host.EndpointDeleted += OnEndpointDeleted;
        host.EndpointMoved += OnEndpointMoved;
        Watch(host);
        return host;
    }

    private string FreeName(string prefix)
    {
        for (int i = 0; ; i++)
            if (FindRecord($"{prefix}{i}") is null) return $"{prefix}{i}";
    }

    // ---- del / show ---------------------------------------------------------------------------

    private ControlResponse Delete(LinkDelRequest r)
    {
        RequestValues.Given(r.Name);
        // an endpoint that could not be restored (its namespace or lower gone) is still deletable,
        // and its deletion is as durable as any other: saved, or refused and kept
        if (FindRecord(r.Name) is null && _unrestored.Find(e => e.Name == r.Name) is { } saved) return DeleteUnrestored(saved);
        var record = Require(r.Name);
        // Saved first: a deleted interface (a container's NIC and its addresses) cannot be brought back
        try
        {
            Save(without: record);
        }
        catch (MvtapException e)
        {
            _log.LogError("{Name} (index {Index}) is not deleted: {Error}", record.Name, record.Index, e.Message);
            throw;
        }
        _records.Remove(record);
        try
        {
            RemoveFromLower(record);
        }
        catch (Exception e)
        {
            // it is out of the configuration and out of its port; only cleaning up after it failed
            _log.LogError("deleted {Name} (index {Index}), but not everything of it could be removed: {Error}", record.Name, record.Index, e.Message);
            return ControlResponse.Success();
        }
        _log.LogInformation("deleted {Name} (index {Index})", record.Name, record.Index);
        return ControlResponse.Success();
    }

    private void RemoveFromLower(EndpointRecord record)
    {
        var lower = record.Lower;
        lower.RemoveEndpoint(record.Endpoint);
        CloseIfEmpty(lower);
    }

    private void CloseIfEmpty(ILowerHost lower)
    {
        if (lower.Port.Endpoints.Count != 0) return;
        // spec 1.2: the port goes with its last endpoint
        _lowers.Remove(lower);
        lower.Port.Changed -= OnPortChanged;
        lower.EndpointDeleted -= OnEndpointDeleted;
        lower.EndpointMoved -= OnEndpointMoved;
        Unwatch(lower);
        lower.Dispose();
    }

    private ControlResponse Show(LinkShowRequest r)
    {
        if (r.Name is { } name) return ControlResponse.Success([View(Require(name))]);
        return ControlResponse.Success([.. _records.OrderBy(x => x.Index).Select(View)]);
    }

    private EndpointRecord? FindRecord(string name) => _records.Find(x => x.Name == name);

    private EndpointRecord Require(string name) =>
        FindRecord(name) ?? throw new MvtapException(Errno.ENODEV, $"Cannot find device \"{InterfaceNames.Printable(name)}\"");

    private LinkView View(EndpointRecord record) => LinkViews.Build(record, _runDir);

    // Taking back part of a refused change. A failure here leaves the daemon running with a
    // configuration that differs from the saved one: it is logged as such, and the request's own
    // error goes to the client.
    private void Undo(Action undo, string what)
    {
        try { undo(); }
        catch (Exception e)
        {
            _log.LogError("cannot {What}: {Error}; the running configuration differs from the saved one until the next change or restart", what, e.Message);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            foreach (var lower in _lowers)
            {
                lower.Port.Changed -= OnPortChanged;
                lower.EndpointDeleted -= OnEndpointDeleted;
                lower.EndpointMoved -= OnEndpointMoved;
                lower.Dispose();
            }
            _lowers.Clear();
        }
    }
}
