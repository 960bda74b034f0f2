// The library entry point of the Linux datapath, for the daemon and for tests: opens lower
// devices (each with its Port and datapath thread), adds and removes endpoints of every kind on
// them (AddEndpoint, in DatapathSwitch.Endpoints.cs: `macvlan` veth pairs here, `macvtap` attachment
// points there, persistent TAPs in DatapathSwitch.Taps.cs), and on Dispose stops the threads and deletes
// every veth pair and TAP it created.
// All of it happens in one network namespace, the switch's own ("host" side): the lowers live
// there and the outer veth ends are created there; endpoints' inner ends may go anywhere, and are
// followed there (InnerLinkMonitor): a NIC deleted in its container deletes its endpoint, as the
// kernel deletes a macvlan whose device is deleted (MacvlanEndpointDeleted tells the owner).
// The lowers are followed too (LowerLinkMonitor): a lower deleted, moved or re-created is reopened
// or shown as it is; its owner hears of deleted lowers (LowerGone) and of interfaces appearing.
// Whatever either monitor saw change (a lower's carrier or state, an endpoint's interface) is told
// as LinksChanged, so `mvtap monitor` hears of it as it happens.
using Microsoft.Extensions.Logging;
using Mvtap.Core.Model;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

namespace Mvtap.Datapath;

public sealed partial class DatapathSwitch : IDisposable
{
    private readonly object _gate = new();
    private readonly Rtnetlink _rtnl;
    private readonly List<LowerDatapath> _lowers = [];
    private readonly Dictionary<Endpoint, (LowerDatapath Lower, MacvlanAttachment Attachment)> _endpoints = [];
    // What OnPortChanged reads: replaced whole under _gate, read without it, because Changed may run
    // on another thread while AddMacvlanEndpoint (holding _gate) waits for the port's handlers to
    // have seen its change (Port.Changed): taking _gate there could deadlock.
    private volatile MacvlanAttachment[] _attachments = [];
    private bool _disposed;

    /// <param name="netns">the named namespace the lowers live in and outer veth ends are made in; null: the caller's.</param>
    /// <param name="log">where events worth a line go (a change made inside a container that was put back); default
    /// <paramref name="logger"/>, else stderr.</param>
    /// <param name="logger">where the lowers' and datapath threads' events go, with their severity (default: as <paramref name="log"/>).</param>
    public DatapathSwitch(string? netns = null, bool keepInterfaces = false, Action<string>? log = null, ILogger? logger = null)
    {
        KeepInterfaces = keepInterfaces;
        Namespace = netns;
        _log = log ?? (logger is null ? line => Console.Error.WriteLine($"mvtap: {line}") : line => logger.LogInformation("{Line}", line));
        _logger = logger ?? new LineLogger(_log);
        _rtnl = netns is null ? new Rtnetlink() : Rtnetlink.InNamespace(netns);
        _monitor = new LowerLinkMonitor(netns, () => Lowers, () => LowerGonePolicy, dp => LowerGone?.Invoke(dp),
            name => InterfaceAppeared?.Invoke(name), _logger, OnLinksChanged);
        _innerNamespaces = new InnerNamespaces(netns);
        _innerMonitor = new InnerLinkMonitor(_innerNamespaces, _log, OnInterfaceGone,
            (a, ns) => Raise(() => MacvlanInterfaceMoved?.Invoke(a.Endpoint, ns)), OnLinksChanged);
    }

    /// <summary>A macvlan endpoint's interface was unregistered (deleted inside its container, or gone with
    /// its namespace): the switch has deleted the endpoint; the line says so. Raised on the thread pool.</summary>
    public event Action<Endpoint, string>? MacvlanEndpointDeleted;

    /// <summary>A macvlan endpoint's interface was moved to another namespace by someone else (its container)
    /// and is followed there: that namespace's name under /run/netns (null: it has none, or it is the switch's).
    /// Raised on the thread pool.</summary>
    public event Action<Endpoint, string?>? MacvlanInterfaceMoved;

    private readonly InnerNamespaces _innerNamespaces;

    private readonly LowerLinkMonitor _monitor;
    private readonly Action<string> _log;
    private readonly ILogger _logger;
    // The endpoints' own interfaces: what a container does to its NIC is done to the endpoint.
    private readonly InnerLinkMonitor _innerMonitor;

    /// <summary>What happens to the endpoints of a lower that is deleted: kept, showing no carrier
    /// until an interface of its name appears (default), or deleted by this switch's owner on <see cref="LowerGone"/>.</summary>
    public LowerGonePolicy LowerGonePolicy { get; init; }

    /// <summary>A lower was deleted (raised on the monitor thread, its endpoints already without carrier).</summary>
    public event Action<LowerDatapath>? LowerGone;

    /// <summary>An interface of this name appeared, or was seen again, in the switch's namespace
    /// (raised on the monitor thread, often: keep the handler cheap).</summary>
    public event Action<string>? InterfaceAppeared;

    public string? Namespace { get; }

    /// <summary>The clock of the ports of lowers opened from now on (tests: reassembly timeouts).</summary>
    internal TimeProvider? Clock { get; init; }

    /// <summary>Dispose leaves the endpoints' veth pairs in place (a daemon stopping, to adopt them
    /// again on start, so containers keep their configured NICs).</summary>
    public bool KeepInterfaces { get; }

    public IReadOnlyList<LowerDatapath> Lowers { get { lock (_gate) return [.. _lowers]; } }

    /// <summary>Opens interface <paramref name="ifName"/> as a packet lower and starts its datapath thread.</summary>
    public LowerDatapath OpenLower(string ifName)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_lowers.Exists(l => l.Lower.Name == ifName))
                throw new MvtapException(Errno.EEXIST, $"{ifName} is already open");
            var lower = new PacketLower(ifName, Namespace, Clock);
            try
            {
                var datapath = new LowerDatapath(lower, _logger);
                _lowers.Add(datapath);
                lower.Port.Changed += OnPortChanged;
                // spec 4.4: a passthru endpoint's MAC change is the lower's; the core asks before it
                // applies the change, and a refusal of the device refuses the change
                lower.Port.LowerMacApplier = mac => SetLowerMac(lower, mac);
                return datapath;
            }
            catch
            {
                lower.Dispose();
                throw;
            }
        }
    }

    /// <summary>
    /// Creates a `macvlan` endpoint on <paramref name="lower"/>: the endpoint in the port, a veth pair whose inner
    /// end <paramref name="ifName"/> (with the endpoint's MAC and MTU) is created inside <paramref name="netns"/>
    /// (null: the switch's namespace), and its outer end in the datapath. With <paramref name="up"/> the endpoint
    /// is set up once frames can flow (its MAC then enters the lower's unicast filter, spec 4.2), and its
    /// interface with it; without, both stay down until either is brought up (the interface is followed:
    /// InnerLinkMonitor).
    /// </summary>
    public Endpoint AddMacvlanEndpoint(LowerDatapath lower, EndpointSettings settings, string? netns, string ifName, bool up = true)
        => AddMacvlanEndpoint(lower, settings, netns, ifName, up, adopt: false);

    /// <summary>As <see cref="AddMacvlanEndpoint(LowerDatapath, EndpointSettings, string?, string, bool)"/>, but
    /// with <paramref name="adopt"/> an existing pair of a previous run is taken over (see
    /// <see cref="MacvlanAttachment.Adopt"/>) instead of created.</summary>
    public Endpoint AddMacvlanEndpoint(LowerDatapath lower, EndpointSettings settings, string? netns, string ifName, bool up, bool adopt)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_lowers.Contains(lower)) throw new ArgumentException("that lower is not open in this switch", nameof(lower));
            var port = lower.Port;
            var ep = port.Create(settings);
            MacvlanAttachment? attachment = null;
            try
            {
                attachment = (adopt ? MacvlanAttachment.Adopt(_rtnl, Namespace, _innerNamespaces, ep, ifName, netns, OuterTaken) : null)
                    ?? MacvlanAttachment.Create(_rtnl, Namespace, _innerNamespaces, ep, ifName, netns);
                lower.Attach(attachment);
                _endpoints[ep] = (lower, attachment);
                PublishAttachments();
                if (up) port.SetUp(ep, true);
                _innerMonitor.Add(attachment);
                return ep;
            }
            catch
            {
                _endpoints.Remove(ep);
                PublishAttachments();
                if (attachment is not null)
                {
                    try { lower.Detach(attachment); } catch (Exception) { /* already failing; the socket closes below */ }
                    attachment.Dispose(_rtnl);
                }
                port.Delete(ep);
                throw;
            }
        }
    }

    private bool OuterTaken(int outerIndex) => _endpoints.Values.Any(e => e.Attachment.OuterIfIndex == outerIndex);

    // The monitor's thread: the pair is gone, so is the endpoint (out of its port and the datapath).
    private void OnInterfaceGone(MacvlanAttachment attachment, string line)
    {
        Endpoint? deleted = null;
        lock (_gate)
        {
            foreach (var (ep, e) in _endpoints)
            {
                if (e.Attachment != attachment) continue;
                _log(line);
                _endpoints.Remove(ep);
                PublishAttachments();
                try { e.Lower.Port.Delete(ep); } catch (MvtapException) { /* deleted meanwhile */ }
                e.Lower.Detach(attachment);
                try { attachment.Dispose(_rtnl); } catch (Exception x) when (x is NetlinkException or SystemCallException) { }
                deleted = ep;
                break;
            }
        }
        if (deleted is null) return;
        Raise(() => MacvlanEndpointDeleted?.Invoke(deleted, line));
    }

    private void Raise(Action raise) => ThreadPool.QueueUserWorkItem(_ =>
    {
        try { raise(); }
        catch (Exception e) { _log($"an endpoint event's handler failed: {e.Message}"); }
    });

    /// <summary>The attachment of an endpoint this switch created (its veth names, its socket).</summary>
    public MacvlanAttachment AttachmentOf(Endpoint ep)
    {
        lock (_gate) return _endpoints.TryGetValue(ep, out var e) ? e.Attachment : throw NotOurs(ep);
    }

    public LowerDatapath LowerOf(Endpoint ep)
    {
        lock (_gate) return _endpoints.TryGetValue(ep, out var e) ? e.Lower : throw NotOurs(ep);
    }

    /// <summary>Deletes the endpoint from its port (it stops receiving at once), takes its socket out of
    /// the datapath, then deletes its veth pair (a macvtap: closes its attachment points).</summary>
    public void RemoveEndpoint(Endpoint ep)
    {
        lock (_gate)
        {
            if (RemoveMacvtap(ep) || RemoveTap(ep)) return;
            if (!_endpoints.Remove(ep, out var e)) throw NotOurs(ep);
            _innerMonitor.Remove(e.Attachment);
            PublishAttachments();
            e.Lower.Port.Delete(ep);
            e.Lower.Detach(e.Attachment);
            e.Attachment.Dispose(_rtnl);
        }
    }

    /// <summary>Moves a macvlan endpoint's interface into another network namespace.</summary>
    public void MoveEndpoint(Endpoint ep, string netns)
    {
        lock (_gate)
        {
            if (!_endpoints.TryGetValue(ep, out var e)) throw NotOurs(ep);
            e.Attachment.MoveTo(_rtnl, netns);
            _innerMonitor.Moved(e.Attachment);
        }
    }

    /// <summary>Closes the attachment points of a lower's macvtap endpoints, stops its datapath thread,
    /// deletes the veth pairs of its macvlan endpoints and closes it (the port goes with its last
    /// endpoint, spec 1.2).</summary>
    public void CloseLower(LowerDatapath lower)
    {
        lock (_gate)
        {
            if (!_lowers.Remove(lower)) return;
            CloseMacvtaps(lower);
            CloseTaps(lower);
            lower.Dispose();
            foreach (var (ep, e) in _endpoints.Where(kv => kv.Value.Lower == lower).ToList())
            {
                _endpoints.Remove(ep);
                _innerMonitor.Remove(e.Attachment);
                ReleaseOrDelete(e.Attachment);
            }
            lower.Lower.Dispose();
        }
    }

    // Raised after every change (outside the port's lock, one call at a time): interfaces follow their
    // endpoints (MAC, MTU, up/down).
    // The change itself is made and published already; an interface that cannot follow (its namespace
    // was deleted with the container) is logged, not turned into a failure of the change.
    private void OnPortChanged(Port port)
    {
        FollowTaps(port);
        foreach (var a in _attachments)
        {
            if (a.Endpoint.Port != port || a.Endpoint.IsDeleted) continue;
            try { a.SyncInner(); }
            catch (Exception e) when (e is NetlinkException or SystemCallException or ArgumentException)
            {
                _log($"{a.Endpoint.Name}: its interface {a.InnerName} cannot follow the endpoint: {e.Message}");
            }
        }
    }

    // The port's LowerMacApplier: on whatever thread changes the port, outside the port's lock, with
    // its own netlink socket, wherever the lower is open now (it may have been followed into another
    // namespace). A refusal is logged and thrown with the kernel's errno, so the change that needed it
    // is refused whole (or, putting back the MAC after passthru, ignored as the kernel does).
    private void SetLowerMac(PacketLower lower, Core.Frames.MacAddress mac)
    {
        if (_disposed || !lower.Status.IsOpen) return; // the device is no longer ours to change
        try
        {
            using var rtnl = lower.OpenElsewhere is { } ns ? ns.Run(() => new Rtnetlink())
                : Namespace is null ? new Rtnetlink() : Rtnetlink.InNamespace(Namespace);
            rtnl.SetLink(new LinkRequest { Index = lower.IfIndex, Address = mac });
        }
        catch (Exception e) when (e is NetlinkException or SystemCallException)
        {
            int errno = e is NetlinkException n ? n.Errno : ((SystemCallException)e).Errno;
            var message = $"{lower.Name} refused address {mac}: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)}";
            _log(message);
            throw new MvtapException((Errno)errno, message);
        }
    }

    private void PublishAttachments() => _attachments = [.. _endpoints.Values.Select(e => e.Attachment)];

    private void ReleaseOrDelete(MacvlanAttachment attachment)
    {
        if (KeepInterfaces) { attachment.Release(); return; }
        try { attachment.Dispose(_rtnl); } catch (RtnetlinkException) { /* best effort: keep cleaning up */ }
    }

    private static MvtapException NotOurs(Endpoint ep) => new(Errno.ENODEV, $"{ep.Name} is not an endpoint of this switch");

    public void Dispose()
    {
        // first, and outside the lock: the monitor's thread takes it to find a port
        _monitor.Dispose();
        _innerMonitor.Dispose();
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            CloseMacvtaps(null);
            CloseTaps(null);
            // Threads first, so no socket is closed under a running loop; then the pairs and lowers.
            foreach (var l in _lowers)
            {
                l.Port.Changed -= OnPortChanged;
                l.Dispose();
            }
            foreach (var (ep, e) in _endpoints)
            {
                ReleaseOrDelete(e.Attachment);
            }
            _endpoints.Clear();
            PublishAttachments();
            foreach (var l in _lowers) l.Lower.Dispose();
            _lowers.Clear();
            _innerNamespaces.Dispose();
            _rtnl.Dispose();
        }
    }
}
