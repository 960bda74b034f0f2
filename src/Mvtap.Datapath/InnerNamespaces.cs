// The namespaces a switch's macvlan NICs are in (InnerNamespace), shared by every NIC in the same
// one: found by name (a move mvtap makes), by the netnsid the switch's namespace gives them (where
// an outer veth end says its peer is, e.g. after the container moved the NIC on) or by a search of
// every reachable namespace (NetNamespaceReach). Each gets a netnsid here when it has none, so its
// link notifications reach the monitor (which listens to every namespace with an id). Counted by
// the places that point at them; the monitor's thread closes the ones no place points at, and the
// ones nobody else uses any more (Sweep). Thread-safe.
using Mvtap.Linux;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

namespace Mvtap.Datapath;

internal sealed class InnerNamespaces : IDisposable
{
    private readonly object _gate = new();
    private readonly Dictionary<string, InnerNamespace> _byId = new(StringComparer.Ordinal);
    private readonly Dictionary<int, InnerNamespace> _byNsId = [];
    private readonly Rtnetlink _host; // under _gate
    private bool _disposed;
    private long _registrations;
    private bool _released; // some namespace's count fell to 0 since the last sweep
    private int _version;

    /// <param name="switchNamespace">the switch's named namespace; null: the calling thread's.</param>
    public InnerNamespaces(string? switchNamespace)
    {
        var handle = switchNamespace is null ? NetNamespace.OpenCurrent() : NetNamespace.Open(switchNamespace);
        try
        {
            Home = InnerNamespace.Open(handle, NetNamespaceReach.IdOf(handle), nsId: null, switchNamespace, isHome: true);
            _host = Home.Run(() => new Rtnetlink());
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>The switch's own namespace (never closed before the switch is).</summary>
    public InnerNamespace Home { get; }

    /// <summary>The namespace called <paramref name="name"/> under /run/netns, counted for one more place.</summary>
    public InnerNamespace AcquireNamed(string name)
    {
        var fd = NetNamespace.Open(name);
        try
        {
            string id = NetNamespaceReach.IdOf(fd);
            lock (_gate)
            {
                if (Existing(id) is { } known) { fd.Dispose(); return Counted(known); }
                return Counted(Register(fd, id, name));
            }
        }
        catch
        {
            if (!fd.IsClosed) fd.Dispose();
            throw;
        }
    }

    /// <summary>The namespace the switch's namespace calls <paramref name="nsId"/>, counted for one more place;
    /// <paramref name="hint"/> is a /run/netns name to try first. Null when no reachable namespace has that id.</summary>
    public InnerNamespace? AcquireByNsId(int nsId, string? hint)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_byNsId.TryGetValue(nsId, out var known) && known.IsOpen) return Counted(known);
            if (hint is not null && TryNamed(hint, nsId) is { } named) return Counted(named);
            if (NetNamespaceReach.Find(fd => _host.GetNsId(fd) == nsId) is not { } found) return null;
            if (Existing(found.Path.Id) is { } same) { found.Handle.Dispose(); return Counted(same); }
            return Counted(Register(found.Handle, found.Path.Id, found.Path.Name));
        }
    }

    /// <summary>One place less points at <paramref name="ns"/>; the monitor closes it when none does.</summary>
    public void Release(InnerNamespace? ns)
    {
        if (ns is null || ns.IsHome) return;
        lock (_gate)
        {
            if (--ns.References <= 0) _released = true;
        }
    }

    /// <summary>The open namespace with netnsid <paramref name="nsId"/> here (-1: the switch's own), if followed.</summary>
    public InnerNamespace? Find(int nsId)
    {
        if (nsId < 0) return Home;
        lock (_gate) return _byNsId.GetValueOrDefault(nsId);
    }

    /// <summary>Every open namespace, the switch's first.</summary>
    public InnerNamespace[] All()
    {
        lock (_gate) return [Home, .. _byId.Values];
    }

    /// <summary>Changes whenever a namespace is added or closed (to re-read <see cref="All"/> only then).</summary>
    public int Version => Volatile.Read(ref _version);

    private static readonly List<InnerNamespace> NoneAbandoned = [];

    /// <summary>The monitor's thread: closes namespaces no place points at, and with
    /// <paramref name="checkUse"/> the ones nobody but mvtap uses (returned, to say so).</summary>
    public List<InnerNamespace> Sweep(bool checkUse)
    {
        lock (_gate)
        {
            if (!checkUse && !_released) return NoneAbandoned;
            _released = false;
        }
        var abandoned = new List<InnerNamespace>();
        var closing = new List<InnerNamespace>();
        HashSet<string>? inUse = null;
        long scanned = Volatile.Read(ref _registrations);
        // the scan (every process) outside the lock; a namespace registered since is not judged by it
        if (checkUse && _byId.Count > 0) inUse = NetNamespaceReach.InUse();
        lock (_gate)
        {
            foreach (var ns in _byId.Values.ToList())
            {
                bool unused = inUse is not null && ns.Registration <= scanned && !inUse.Contains(ns.Id);
                if (ns.References > 0 && !unused) continue;
                Unregister(ns);
                closing.Add(ns);
                if (unused && ns.References > 0) abandoned.Add(ns);
            }
        }
        // outside the lock: nobody finds them any more, and only this thread reads their lists
        foreach (var ns in closing) ns.Close(abandoned.Contains(ns));
        return abandoned;
    }

    private InnerNamespace? Existing(string id) =>
        id == Home.Id ? Home : _byId.TryGetValue(id, out var ns) && ns.IsOpen ? ns : null;

    private static InnerNamespace Counted(InnerNamespace ns)
    {
        if (!ns.IsHome) ns.References++;
        return ns;
    }

    // Under _gate: a new namespace, taking fd; it gets a netnsid here if it has none.
    private InnerNamespace Register(FileDescriptor fd, string id, string? name)
    {
        try
        {
            int nsId = _host.EnsureNsId(fd);
            var ns = InnerNamespace.Open(fd, id, nsId, name ?? NetNamespaceReach.NameOf(id), isHome: false);
            ns.Registration = Interlocked.Increment(ref _registrations);
            _byId[id] = ns;
            _byNsId[nsId] = ns;
            _version++;
            return ns;
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    private void Unregister(InnerNamespace ns)
    {
        _byId.Remove(ns.Id);
        _version++;
        if (ns.NsId is int n && _byNsId.GetValueOrDefault(n) == ns) _byNsId.Remove(n);
    }

    // Under _gate: /run/netns/NAME if it is the namespace with that netnsid.
    private InnerNamespace? TryNamed(string name, int nsId)
    {
        FileDescriptor fd;
        try { fd = NetNamespace.Open(name); }
        catch (Exception e) when (e is SystemCallException or ArgumentException) { return null; }
        string id;
        try
        {
            id = NetNamespaceReach.IdOf(fd);
            if (_host.GetNsId(fd) != nsId) { fd.Dispose(); return null; }
        }
        catch (SystemCallException)
        {
            fd.Dispose();
            return null;
        }
        if (Existing(id) is { } known) { fd.Dispose(); return known; }
        return Register(fd, id, name);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            foreach (var ns in _byId.Values) ns.Close(abandoned: false);
            _byId.Clear();
            _byNsId.Clear();
            Home.Close(abandoned: false);
            _host.Dispose();
        }
    }
}
