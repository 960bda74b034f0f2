// How a `macvlan` endpoint is attached (design.md "Words"): a veth pair. The inner end carries
// the endpoint's MAC and MTU and may live in another network namespace (a container's NIC); the
// outer end stays with the datapath, which opens it with AF_PACKET exactly like a lower device
// (batched, vnet header) and holds it promiscuous so it receives every frame the inner end sends
// and every frame we hand it, whatever the destination MAC.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

namespace Mvtap.Linux.Datapath;

public sealed class MacvlanAttachment : IEndpointAttachment, IDisposable
{
    private static int _counter;
    private readonly string? _hostNamespace;
    private bool _disposed;

    private MacvlanAttachment(Endpoint endpoint, string outerName, int outerIndex, string innerName, string? innerNamespace,
        string? hostNamespace, PacketSocket socket, bool innerUp, int innerIfIndex)
    {
        InnerIfIndex = innerIfIndex;
        Endpoint = endpoint;
        OuterName = outerName;
        OuterIfIndex = outerIndex;
        InnerName = innerName;
        InnerNamespace = innerNamespace;
        _hostNamespace = hostNamespace;
        Socket = socket;
        InnerMac = endpoint.Mac;
        InnerMtu = endpoint.Mtu;
        InnerUp = innerUp;
        _lastEndpointUp = endpoint.IsUp;
        _io = new PacketSocketIo(socket, endpoint);
    }

    private readonly PacketSocketIo _io;

    // ---- IEndpointAttachment: the outer end's packet socket --------------------------------

    public int GetPollFds(Span<int> fds) => _io.GetPollFds(fds);
    public void SetDatapath(LowerDatapath? datapath) => _io.SetDatapath(datapath);
    public int ReceiveBatch(int source, FrameBatch scratch) => _io.ReceiveBatch(scratch);
    public ReceivedFrame GetFrame(int i, FrameBatch scratch, out ReadOnlySpan<byte> frame, out VirtioNetHeader vnet) =>
        _io.GetFrame(i, scratch, out frame, out vnet);
    public void EndReceive() => _io.EndReceive();
    public bool ReceivePending => _io.ReceivePending;
    public int PendingSource => 0;
    public void Deliver(in Packet packet)
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
    /// the move, as CNI plugins do): it is the same interface, pushed to and moved under its new name.</summary>
    internal void FollowRename(string name)
    {
        lock (_innerGate) InnerName = name;
    }
    public string? InnerNamespace { get; private set; }
    /// <summary>Read and written by the datapath thread only.</summary>
    public PacketSocket Socket { get; }
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
    /// <summary>Bumped before every change mvtap pushes into the inner end, so an observation read
    /// before the push is recognised as stale.</summary>
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
    /// </summary>
    public void SyncInner(bool restore = false)
    {
        lock (_innerGate)
        {
            if (_disposed || Endpoint.IsDeleted) return;
            var ep = Endpoint;
            bool upChanged = ep.IsUp != _lastEndpointUp;
            _lastEndpointUp = ep.IsUp;
            var request = new LinkRequest { Name = InnerName };
            bool any = false;
            if (ep.Mac != InnerMac) { request = request with { Address = ep.Mac }; any = true; }
            if (ep.Mtu != InnerMtu) { request = request with { Mtu = (uint)ep.Mtu }; any = true; }
            if ((upChanged || restore) && ep.IsUp != InnerUp) { request = request with { Up = ep.IsUp }; any = true; }
            if (!any) return;
            Interlocked.Increment(ref _pushGeneration);
            using var rtnl = OpenInnerRtnetlink();
            rtnl.SetLink(request);
            InnerMac = ep.Mac;
            InnerMtu = ep.Mtu;
            if (request.Up is { } up) InnerUp = up;
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

    /// <summary>The namespace the inner end is in, for rtnetlink and /proc (null: the caller's).</summary>
    public string? InnerNamespaceOrHost => InnerNamespace ?? _hostNamespace;

    private Rtnetlink OpenInnerRtnetlink() =>
        InnerNamespaceOrHost is { } ns ? Rtnetlink.InNamespace(ns) : new Rtnetlink();

    /// <summary>
    /// Creates the pair for <paramref name="endpoint"/>: outer end in <paramref name="hostNamespace"/> (null: the
    /// caller's), inner end named <paramref name="innerName"/> created directly inside <paramref name="innerNamespace"/>
    /// (null: next to the outer end). The outer end is brought up; the inner end takes the endpoint's admin
    /// state (a new endpoint is down, as a new kernel macvlan device is: bringing either up brings both up).
    /// </summary>
    public static MacvlanAttachment Create(Rtnetlink hostRtnl, string? hostNamespace, Endpoint endpoint, string innerName, string? innerNamespace)
    {
        using var innerNs = innerNamespace is null ? null : NetNamespace.Open(innerNamespace);
        string outer = CreatePair(hostRtnl, endpoint, innerName, innerNs);
        try
        {
            hostRtnl.SetUp(outer, true);
            if (endpoint.IsUp && innerNamespace is null) hostRtnl.SetUp(innerName, true);
            else if (endpoint.IsUp)
            {
                using var innerRtnl = Rtnetlink.InNamespace(innerNamespace!);
                innerRtnl.SetUp(innerName, true);
            }
            var link = hostRtnl.GetLink(outer) ?? throw new SystemCallException($"veth {outer} vanished", 19);
            var socket = PacketLower.Open(hostNamespace, link.Index);
            try
            {
                socket.SetPromiscuous(true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
            return new MacvlanAttachment(endpoint, outer, link.Index, innerName, innerNamespace, hostNamespace, socket, innerUp: endpoint.IsUp,
                innerIfIndex: link.Link ?? 0); // a veth's IFLA_LINK is its peer's index
        }
        catch
        {
            TryDelete(hostRtnl, outer);
            throw;
        }
    }

    /// <summary>
    /// Takes over the pair of a previous mvtapd run (SIGKILL, or a stop that kept the interfaces):
    /// the inner end <paramref name="innerName"/> in <paramref name="innerNamespace"/> stays as the
    /// container configured it (addresses, routes) and traffic resumes through a new socket on its
    /// outer end. Null when there is no such pair of ours (not a veth, or its peer is not an outer end).
    /// </summary>
    public static MacvlanAttachment? Adopt(Rtnetlink hostRtnl, string? hostNamespace, Endpoint endpoint, string innerName, string? innerNamespace)
    {
        using var innerRtnl = innerNamespace is null ? null : Rtnetlink.InNamespace(innerNamespace);
        var innerSide = innerRtnl ?? hostRtnl;
        var inner = innerSide.GetLink(innerName);
        var outer = inner is null ? null : OuterEndOf(hostRtnl, inner);
        if (outer is null)
        {
            // Renamed in its namespace while we were away (see FollowRename): the same pair still
            // carries the endpoint's MAC on its inner end.
            foreach (var link in innerSide.GetLinks())
            {
                if (link.Address != endpoint.Mac || OuterEndOf(hostRtnl, link) is not { } o) continue;
                (inner, outer) = (link, o);
                innerName = link.Name;
                break;
            }
        }
        if (inner is null || outer is null) return null;
        (innerRtnl ?? hostRtnl).SetLink(new LinkRequest { Name = innerName, Address = endpoint.Mac, Mtu = (uint)endpoint.Mtu });
        hostRtnl.SetUp(outer.Name, true);
        var socket = PacketLower.Open(hostNamespace, outer.Index);
        try
        {
            socket.SetPromiscuous(true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new MacvlanAttachment(endpoint, outer.Name, outer.Index, innerName, innerNamespace, hostNamespace, socket, innerUp: inner.IsUp, innerIfIndex: inner.Index);
    }

    // The outer end of ours (an "mvo" veth in the switch's namespace) whose peer is inner, if any.
    private static LinkInfo? OuterEndOf(Rtnetlink hostRtnl, LinkInfo inner)
    {
        if (inner is not { Kind: "veth", Link: { } peerIndex }) return null;
        var outer = hostRtnl.GetLink(peerIndex);
        return outer is { Kind: "veth" } && outer.Name.StartsWith("mvo", StringComparison.Ordinal) ? outer : null;
    }

    /// <summary>Moves the inner end into another named namespace (`link set NAME netns NS`).</summary>
    public void MoveTo(Rtnetlink hostRtnl, string netns)
    {
        using var innerRtnl = InnerNamespace is null ? null : Rtnetlink.InNamespace(InnerNamespace);
        using var target = NetNamespace.Open(netns);
        (innerRtnl ?? hostRtnl).MoveToNamespace(InnerName, target);
        InnerNamespace = netns;
        // a moved device keeps its index unless the new namespace has it taken
        using var movedRtnl = Rtnetlink.InNamespace(netns);
        InnerIfIndex = movedRtnl.GetLink(InnerName)?.Index ?? 0;
    }

    /// <summary>Closes the socket but leaves the pair, for a daemon that stops and will adopt it again.</summary>
    public void Release()
    {
        if (_disposed) return;
        _disposed = true;
        Socket.Dispose();
        _io.Dispose();
    }

    // The outer name is ours to choose: "mvo" + pid + counter keeps concurrent daemons and test
    // processes apart and stays within IFNAMSIZ (15); a leftover of a crashed run is skipped.
    private static string CreatePair(Rtnetlink rtnl, Endpoint endpoint, string innerName, FileDescriptor? innerNs)
    {
        for (int attempt = 0; ; attempt++)
        {
            string outer = $"mvo{Environment.ProcessId & 0xFFFF:x4}{Interlocked.Increment(ref _counter) & 0xFFFF:x4}";
            try
            {
                Veth.Create(rtnl, outer, innerName, innerNs, peerAddress: endpoint.Mac, mtu: (uint)endpoint.Mtu);
                return outer;
            }
            catch (RtnetlinkException e) when (e.Errno == 17 /* EEXIST */ && attempt < 16 && rtnl.GetLink(outer) is not null)
            {
                // our generated name was taken; an EEXIST for the inner name is the caller's to see
            }
        }
    }

    private static void TryDelete(Rtnetlink rtnl, string outer)
    {
        // Deleting either end removes the pair; ENODEV means it is gone already (its inner
        // end's namespace was deleted, which destroys the pair with it).
        try { rtnl.DeleteLink(outer); } catch (RtnetlinkException e) when (e.Errno == 19) { }
    }

    /// <summary>Closes the socket and deletes the veth pair. Call only after the datapath let go of the socket.</summary>
    public void Dispose(Rtnetlink hostRtnl)
    {
        if (_disposed) return;
        _disposed = true;
        Socket.Dispose();
        _io.Dispose();
        TryDelete(hostRtnl, OuterName);
    }

    public void Dispose()
    {
        if (_disposed) return;
        using var rtnl = _hostNamespace is null ? new Rtnetlink() : Rtnetlink.InNamespace(_hostNamespace);
        Dispose(rtnl);
    }
}
