// How a `macvlan` endpoint is attached (design.md "Words"): a veth pair. The inner end carries
// the endpoint's MAC and MTU and may live in another network namespace (a container's NIC); the
// outer end stays with the datapath, which opens it with AF_PACKET exactly like a lower device
// (batched, vnet header) and holds it promiscuous so it receives every frame the inner end sends
// and every frame we hand it, whatever the destination MAC.
// Where the inner end is (Place: namespace and ifindex) is what its outer end says (a veth's peer
// index and netnsid), so it is found again whoever moved or renamed it; changes are pushed to it by
// index there. This file: the endpoint's side and the inner end's state; MacvlanAttachment.Pairs.cs
// makes, adopts and deletes pairs.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Linux;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

namespace Mvtap.Datapath;

public sealed partial class MacvlanAttachment : IEndpointAttachment, IDisposable
{
    private readonly string? _hostNamespace;
    private readonly InnerNamespaces _namespaces;
    private bool _disposed;

    private MacvlanAttachment(Endpoint endpoint, string outerName, int outerIndex, string innerName, string? innerNamespace,
        string? hostNamespace, InnerNamespaces namespaces, PacketSocket socket, bool innerUp, InnerPlace? place)
    {
        Endpoint = endpoint;
        OuterName = outerName;
        OuterIfIndex = outerIndex;
        InnerName = innerName;
        InnerNamespace = innerNamespace;
        _hostNamespace = hostNamespace;
        _namespaces = namespaces;
        _place = place;
        InnerIfIndex = place?.IfIndex ?? 0;
        Socket = socket;
        InnerMac = endpoint.Mac;
        InnerMtu = endpoint.Mtu;
        InnerUp = innerUp;
        _lastEndpointUp = endpoint.IsUp;
        _io = new PacketSocketIo(socket, endpoint);
        Multicast = new InnerMulticast(endpoint);
    }

    private readonly PacketSocketIo _io;

    // ---- IEndpointAttachment: the outer end's packet socket --------------------------------

    public int GetPollFds(Span<int> fds) => _io.GetPollFds(fds);
    public void SetDatapath(LowerDatapath? datapath) => _io.SetDatapath(datapath);
    public int ReceiveBatch(int source, SocketFrameBatch scratch) => _io.ReceiveBatch(scratch);
    public ReceivedFrame GetFrame(int i, SocketFrameBatch scratch, out ReadOnlySpan<byte> frame, out VirtioNetHeader vnet) =>
        _io.GetFrame(i, scratch, out frame, out vnet);
    public void EndReceive() => _io.EndReceive();
    public long TakeSocketOverruns() => _io.TakeSocketOverruns();
    public bool ReceivePending => _io.ReceivePending;
    public int PendingSource => 0;
    public void Deliver(in VnetFrame packet)
    {
        // The kernel's macvlan hands its device a frame larger than the MTU (a reassembled multicast
        // datagram, spec 3.8) and the stack takes it; a veth refuses it. An IPv4 one is delivered as
        // fragments that fit, which the stack reassembles.
        int mtu = Endpoint.Mtu;
        if (packet.Length > mtu + EthernetFrame.HeaderLength && _io.DeliverFragmented(packet, mtu)) return;
        _io.Deliver(packet);
    }
    public void Flush() => _io.Flush();

    public Endpoint Endpoint { get; }
    /// <summary>The datapath's end of the pair, in the switch's namespace.</summary>
    public string OuterName { get; }
    public int OuterIfIndex { get; }
    /// <summary>The endpoint's network interface, as its users see it.</summary>
    public string InnerName { get => Volatile.Read(ref _innerName); private set => Volatile.Write(ref _innerName, value); }
    private string _innerName = "";

    /// <summary>The inner end's interface index in its namespace (0: unknown): what identifies it
    /// whatever it is called there.</summary>
    public int InnerIfIndex { get => Volatile.Read(ref _innerIfIndex); private set => Volatile.Write(ref _innerIfIndex, value); }
    private int _innerIfIndex;

    /// <summary>The inner end was renamed where it lives (a container runtime names its NIC eth0 after
    /// the move, as CNI plugins do): it is the same interface, pushed to and moved by its index.</summary>
    internal void FollowRename(string name) => InnerName = name;

    /// <summary>The name (under /run/netns) of the namespace the inner end is in; null: the switch's.
    /// A namespace without a name keeps the last name known.</summary>
    public string? InnerNamespace { get => Volatile.Read(ref _innerNamespace); private set => Volatile.Write(ref _innerNamespace, value); }
    private string? _innerNamespace;

    /// <summary>Read and written by the datapath thread only.</summary>
    public PacketSocket Socket { get; }

    // ---- where the inner end is ---------------------------------------------------------------
    private readonly object _placeGate = new();
    private InnerPlace? _place;
    private long _searched; // when a namespace out of reach was last searched for
    private const int SearchMilliseconds = 5000;

    /// <summary>The place mvtap's own last move (MoveTo) put the inner end: not news to the monitor.</summary>
    internal InnerPlace? MovedBySwitch { get; private set; }

    /// <summary>Where the inner end was last found (null: not yet looked for).</summary>
    internal InnerPlace? Place => Volatile.Read(ref _place);

    /// <summary>Looks where the inner end is now, from its outer end; Gone when the pair no longer exists
    /// (its outer end is unregistered: both ends always go together). <paramref name="host"/> is a
    /// client in the switch's namespace, used by the calling thread only.</summary>
    internal (InnerPlace? Place, bool Gone) Relocate(Rtnetlink host)
    {
        lock (_placeGate)
        {
            if (_disposed) return (_place, false);
            var outer = host.GetLink(OuterIfIndex);
            if (outer is null) return (_place, true);
            if (outer.Link is not int index || index <= 0) return (_place, false); // mid-move: look again later
            int? nsId = outer.LinkNetNsId;
            var current = _place;
            bool same = current is not null && current.NsId == nsId && current.IfIndex == index;
            // still where it was: in a namespace followed, or in one out of reach (let go of, or held only by
            // a descriptor somewhere), searched for again (every reachable namespace) only now and then
            if (same && (current!.Namespace is { IsOpen: true } || Environment.TickCount64 - _searched < SearchMilliseconds))
                return (current, false);
            if (nsId is not null) _searched = Environment.TickCount64;
            var ns = nsId is int id ? _namespaces.AcquireByNsId(id, InnerNamespace) : _namespaces.Home;
            if (ns is null && same) return (current, false);
            Settle(new InnerPlace(ns, nsId, index));
            return (_place, false);
        }
    }

    // Under _placeGate: the new place takes over the old one's count on its namespace.
    private void Settle(InnerPlace place)
    {
        var old = _place;
        Volatile.Write(ref _place, place);
        InnerIfIndex = place.IfIndex;
        if (place.Namespace is { } ns) InnerNamespace = ns.IsHome ? null : ns.Name ?? InnerNamespace;
        _namespaces.Release(old?.Namespace);
    }

    /// <summary>Moves the inner end into the named namespace (`link set NAME netns NS`). The namespace is
    /// followed before the NIC arrives there, so nothing the container does on arrival is missed.</summary>
    internal void MoveTo(Rtnetlink hostRtnl, string netns) => MoveTo(hostRtnl, _namespaces.AcquireNamed(netns), netns);

    /// <summary>Moves the inner end back into the switch's namespace (a host port moved away by
    /// someone else: it stays in the host's namespace, as a netns-local device would).</summary>
    internal void MoveHome(Rtnetlink hostRtnl) => MoveTo(hostRtnl, _namespaces.Home, null);

    // target is counted for this move already (Home never is).
    private void MoveTo(Rtnetlink hostRtnl, InnerNamespace target, string? netns)
    {
        bool settled = false;
        try
        {
            lock (_placeGate)
            {
                var place = Place is { Namespace.IsOpen: true } p ? p : Relocate(hostRtnl).Place;
                if (place?.Namespace is not { IsOpen: true } from)
                    throw new MvtapException(Errno.ENODEV, $"{Endpoint.Name}: its interface {InnerName} is not where mvtapd can reach it");
                if (from == target) return;
                using (var rtnl = from.Run(() => new Rtnetlink()))
                    target.WithHandle(fd => { rtnl.SetLink(new LinkRequest { Index = place.IfIndex, NetNsFd = fd }); return 0; });
                // a moved device keeps its index unless the new namespace has it taken: ask the outer end
                var outer = hostRtnl.GetLink(OuterIfIndex);
                if (outer is { Link: int index } && outer.LinkNetNsId == target.NsId)
                {
                    Settle(new InnerPlace(target, target.NsId, index));
                    MovedBySwitch = _place;
                    settled = true;
                    InnerNamespace = target.IsHome ? null : netns ?? target.Name;
                }
            }
        }
        finally
        {
            if (!settled) _namespaces.Release(target);
        }
        if (!settled) Relocate(hostRtnl); // moved on already by the container: wherever it is now
    }

    // ---- the inner end's state, as far as we know it (pushed by us or observed by InnerLinkMonitor) ----
    // Written under _innerGate: by SyncInner (from Port.Changed, outside the port's lock) and by
    // InnerLinkFollower (monitor thread, never holding the port's lock while it holds ours).
    private readonly object _innerGate = new();
    private long _pushGeneration;
    private bool _lastEndpointUp;
    private long _refusedInnerChanges;

    /// <summary>The MAC the inner end has (the endpoint's, unless a change is under way).</summary>
    public Core.Frames.MacAddress InnerMac { get; private set; }
    public int InnerMtu { get; private set; }
    /// <summary>The inner end's administrative state (IFF_UP).</summary>
    public bool InnerUp { get; private set; }
    /// <summary>Bumped before and after every change mvtap pushes into the inner end, so an observation
    /// read before or during the push is recognised as stale.</summary>
    public long PushGeneration => Interlocked.Read(ref _pushGeneration);
    /// <summary>Changes made on the inner end that the port refused and mvtap put back (MAC busy,
    /// MTU above the lower's, up with a busy MAC): see InnerLinkFollower.</summary>
    public long RefusedInnerChanges => Interlocked.Read(ref _refusedInnerChanges);

    internal void CountRefusedInnerChange() => Interlocked.Increment(ref _refusedInnerChanges);

    /// <summary>
    /// Makes the inner end carry the endpoint's state: the kernel's macvlan device IS the endpoint, so
    /// its MAC (spec 4.1), its MTU (4.3, clamped with the lower) and its admin state are one. The admin
    /// state follows the endpoint's changes (an up/down of the endpoint), not its level, so a pair adopted
    /// or created before the endpoint is brought up is not flapped (a down interface loses its routes).
    /// With <paramref name="restore"/> the admin state is forced too: putting back a refused inner change.
    /// Bringing it up, its multicast list is read and followed before this returns (InnerMulticast). When the
    /// endpoint came up (brought up here or by its container), the outer end can transmit before this returns.
    /// </summary>
    public void SyncInner(bool restore = false)
    {
        var (pushedUp, cameUp) = PushInner(restore);
        if (cameUp) AwaitOuterQueue();
        if (!pushedUp) return;
        // Brought up by mvtap: the IP stack joined its groups (all-hosts, all-nodes) inside dev_open, as it
        // does on the kernel's macvlan, whose filter has them before `ip link set up` returns; so ours must
        // before this change returns (the monitor would take them up only later).
        if (Place is not { Namespace: { IsOpen: true } ns } place) return;
        try
        {
            var (groups, stamp) = ns.ReadGroupsNow(place.IfIndex);
            Multicast.Follow(groups, stamp);
        }
        catch (Exception e) when (e is ObjectDisposedException or SystemCallException or MvtapException)
        {
            // let go of, or deleted, meanwhile: the monitor looks again
        }
    }

    /// <summary>The endpoint's multicast filter as its interface's list makes it.</summary>
    internal InnerMulticast Multicast { get; }

    // The push itself: whether it brought the inner end up, and whether the endpoint came up (by this push,
    // or by its container, which brought the inner end up itself).
    private (bool PushedUp, bool CameUp) PushInner(bool restore)
    {
        lock (_innerGate)
        {
            if (_disposed || Endpoint.IsDeleted) return (false, false);
            var ep = Endpoint;
            bool upChanged = ep.IsUp != _lastEndpointUp;
            bool cameUp = upChanged && ep.IsUp;
            _lastEndpointUp = ep.IsUp;
            var request = new LinkRequest();
            bool any = false;
            if (ep.Mac != InnerMac) { request = request with { Address = ep.Mac }; any = true; }
            if (ep.Mtu != InnerMtu) { request = request with { Mtu = (uint)ep.Mtu }; any = true; }
            if ((upChanged || restore) && ep.IsUp != InnerUp) { request = request with { Up = ep.IsUp }; any = true; }
            if (!any) return (false, cameUp);
            Interlocked.Increment(ref _pushGeneration);
            Push(request);
            // and after: a read begun while the push was under way may show the state before it
            Interlocked.Increment(ref _pushGeneration);
            InnerMac = ep.Mac;
            InnerMtu = ep.Mtu;
            if (request.Up is { } up) InnerUp = up;
            return (request.Up == true, cameUp);
        }
    }

    // By index where the inner end is; once more after looking again if it was moved on meanwhile.
    private void Push(LinkRequest request)
    {
        for (int attempt = 0; ; attempt++)
        {
            var place = attempt == 0 ? Place : null;
            if (place?.Namespace is not { IsOpen: true })
            {
                using var host = _namespaces.Home.Run(() => new Rtnetlink());
                var (found, gone) = Relocate(host);
                if (gone) throw new MvtapException(Errno.ENODEV, $"{Endpoint.Name}: its interface {InnerName} is gone");
                place = found;
            }
            if (place?.Namespace is not { IsOpen: true } ns)
                throw new MvtapException(Errno.ENODEV, $"{Endpoint.Name}: its interface {InnerName} is not where mvtapd can reach it");
            try
            {
                using var rtnl = ns.Run(() => new Rtnetlink());
                rtnl.SetLink(request with { Index = place.IfIndex });
                return;
            }
            catch (Exception e) when (attempt == 0 && e is RtnetlinkException { Errno: (int)Errno.ENODEV } or ObjectDisposedException)
            {
                // moved on, or its namespace let go of, since we last looked
            }
        }
    }

    /// <summary>
    /// Records what the inner end was seen to carry (read after <paramref name="generationBeforeRead"/>) and
    /// returns which of MAC, MTU and admin state differ from what it last carried: the changes somebody
    /// made on the interface itself. Null when mvtap pushed a change after the read began (stale: read again).
    /// </summary>
    internal (bool Mac, bool Mtu, bool Up)? RecordObserved(long generationBeforeRead, Core.Frames.MacAddress mac, int mtu, bool up)
    {
        lock (_innerGate)
        {
            if (_disposed || PushGeneration != generationBeforeRead) return null;
            var changed = (mac != InnerMac, mtu != InnerMtu, up != InnerUp);
            InnerMac = mac;
            InnerMtu = mtu;
            InnerUp = up;
            return changed;
        }
    }
}
