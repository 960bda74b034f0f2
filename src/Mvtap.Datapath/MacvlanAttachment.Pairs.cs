// The veth pairs of macvlan endpoints: made (the inner end created directly in its namespace),
// adopted from a previous mvtapd run (found by name where it was, or by the endpoint's MAC on the
// peer of any outer end of ours, wherever the container has taken it since), released (a daemon
// that stops and will adopt them again) and deleted (through the inner end when someone took the
// outer one out of the switch's namespace); and an outer end's transmit queue, awaited when its
// carrier comes on (AwaitTransmitQueue).
using Mvtap.Core.Model;
using Mvtap.Linux;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

namespace Mvtap.Datapath;

public sealed partial class MacvlanAttachment
{
    private static int _counter;

    /// <summary>
    /// Creates the pair for <paramref name="endpoint"/>: outer end in <paramref name="hostNamespace"/> (null: the
    /// caller's), inner end named <paramref name="innerName"/> created directly inside <paramref name="innerNamespace"/>
    /// (null: next to the outer end). The outer end is brought up; the inner end takes the endpoint's admin
    /// state (a new endpoint is down, as a new kernel macvlan device is: bringing either up brings both up).
    /// </summary>
    internal static MacvlanAttachment Create(Rtnetlink hostRtnl, string? hostNamespace, InnerNamespaces namespaces,
        Endpoint endpoint, string innerName, string? innerNamespace)
    {
        // followed before the NIC exists there
        var ns = innerNamespace is null ? namespaces.Home : namespaces.AcquireNamed(innerNamespace);
        string? outer = null;
        try
        {
            outer = ns.IsHome
                ? CreatePair(hostRtnl, endpoint, innerName, null)
                : ns.WithHandle(fd => CreatePair(hostRtnl, endpoint, innerName, fd));
            hostRtnl.SetUp(outer, true);
            var link = hostRtnl.GetLink(outer) ?? throw new SystemCallException($"veth {outer} vanished", 19);
            int innerIndex = link.Link ?? 0; // a veth's IFLA_LINK is its peer's index
            if (endpoint.IsUp)
            {
                using (var innerRtnl = ns.Run(() => new Rtnetlink()))
                    innerRtnl.SetLink(new LinkRequest { Index = innerIndex, Up = true });
                AwaitTransmitQueue(hostRtnl, link.Index);
            }
            var socket = OpenSocket(hostNamespace, link.Index);
            return new MacvlanAttachment(endpoint, outer, link.Index, innerName, innerNamespace, hostNamespace, namespaces, socket,
                innerUp: endpoint.IsUp, new InnerPlace(ns, ns.NsId, innerIndex));
        }
        catch
        {
            namespaces.Release(ns);
            if (outer is not null) TryDelete(hostRtnl, outer);
            throw;
        }
    }

    /// <summary>
    /// Takes over the pair of a previous mvtapd run (SIGKILL, or a stop that kept the interfaces):
    /// the inner end stays as the container configured it (addresses, routes) and traffic resumes through
    /// a new socket on its outer end. It is looked for as <paramref name="innerName"/> in
    /// <paramref name="innerNamespace"/>, then by the endpoint's MAC on the peer of every outer end of ours
    /// that <paramref name="taken"/> (by outer ifindex) does not exclude: renamed, or moved on by the
    /// container while mvtapd was away. Null when there is no such pair.
    /// </summary>
    internal static MacvlanAttachment? Adopt(Rtnetlink hostRtnl, string? hostNamespace, InnerNamespaces namespaces,
        Endpoint endpoint, string innerName, string? innerNamespace, Func<int, bool> taken)
    {
        LinkInfo? inner = null, outer = null;
        if (innerNamespace is null || File.Exists(Path.Combine(NetNamespace.RunDirectory, innerNamespace)))
        {
            using var innerRtnl = innerNamespace is null ? null : Rtnetlink.InNamespace(innerNamespace);
            inner = (innerRtnl ?? hostRtnl).GetLink(innerName);
            outer = inner is null ? null : OuterEndOf(hostRtnl, inner);
            if (outer is not null && taken(outer.Index)) (inner, outer) = (null, null);
        }
        if (outer is null)
        {
            foreach (var link in hostRtnl.GetLinks())
            {
                if (link is not { Kind: "veth", Link: int peer } || !link.Name.StartsWith("mvo", StringComparison.Ordinal) || taken(link.Index)) continue;
                var p = link.LinkNetNsId is int id ? hostRtnl.GetLink(peer, id) : hostRtnl.GetLink(peer);
                if (p?.Address != endpoint.Mac) continue;
                (inner, outer) = (p, link);
                break;
            }
        }
        if (inner is null || outer is null) return null;
        var ns = outer.LinkNetNsId is int nsId ? namespaces.AcquireByNsId(nsId, innerNamespace) : namespaces.Home;
        try
        {
            if (ns is null) throw new MvtapException(Errno.ENODEV, $"{endpoint.Name}: its interface {inner.Name} is in a namespace mvtapd cannot reach");
            using (var innerRtnl = ns.Run(() => new Rtnetlink()))
                innerRtnl.SetLink(new LinkRequest { Index = inner.Index, Address = endpoint.Mac, Mtu = (uint)endpoint.Mtu });
            hostRtnl.SetUp(outer.Name, true);
            var socket = OpenSocket(hostNamespace, outer.Index);
            return new MacvlanAttachment(endpoint, outer.Name, outer.Index, inner.Name, ns.IsHome ? null : ns.Name ?? innerNamespace,
                hostNamespace, namespaces, socket, innerUp: inner.IsUp, new InnerPlace(ns, outer.LinkNetNsId, inner.Index));
        }
        catch
        {
            namespaces.Release(ns);
            throw;
        }
    }

    private static PacketSocket OpenSocket(string? hostNamespace, int outerIndex)
    {
        var socket = PacketLower.Open(hostNamespace, outerIndex);
        try
        {
            socket.SetPromiscuous(true);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    // The outer end of ours (an "mvo" veth in the switch's namespace) whose peer is inner, if any.
    private static LinkInfo? OuterEndOf(Rtnetlink hostRtnl, LinkInfo inner)
    {
        if (inner is not { Kind: "veth", Link: { } peerIndex }) return null;
        var outer = hostRtnl.GetLink(peerIndex);
        return outer is { Kind: "veth" } && outer.Name.StartsWith("mvo", StringComparison.Ordinal) ? outer : null;
    }

    /// <summary>
    /// Returns once the outer end, whose carrier has just come on (its inner end was brought up), can transmit;
    /// bounded (2 s), and at once if its carrier went off again meanwhile. A veth end gets its carrier at once but
    /// its transmit queue only from the kernel's link watch work (dev_activate), which runs a moment later, or
    /// seconds later on a machine busy with netlink (it needs the RTNL lock); until then every frame the datapath
    /// sends into it is dropped silently (the send succeeds; the outer end counts tx_dropped), where the kernel's
    /// macvlan delivers as soon as `ip link set up` returns. An RTM_GETLINK of the device runs its pending link
    /// watch event there and then (rtnl_getlink, Linux 6.8 and later), so the first read normally finds it
    /// operational (IF_OPER_UP, set by the same work); an older kernel is waited for.
    /// </summary>
    internal static void AwaitTransmitQueue(Rtnetlink hostRtnl, int outerIndex)
    {
        const byte IfOperUp = 6;
        long deadline = Environment.TickCount64 + 2000;
        while (hostRtnl.GetLink(outerIndex) is { } outer && outer.OperState != IfOperUp && outer.IsLowerUp
               && Environment.TickCount64 < deadline)
            Thread.Sleep(2);
    }

    /// <summary>As <see cref="AwaitTransmitQueue(Rtnetlink, int)"/> for this pair's outer end, with a client of its own.</summary>
    private void AwaitOuterQueue()
    {
        try
        {
            using var rtnl = _hostNamespace is null ? new Rtnetlink() : Rtnetlink.InNamespace(_hostNamespace);
            AwaitTransmitQueue(rtnl, OuterIfIndex);
        }
        catch (Exception e) when (e is NetlinkException or SystemCallException)
        {
            // the pair is going (deleted with its container): nothing to deliver to
        }
    }

    /// <summary>Closes the socket but leaves the pair, for a daemon that stops and will adopt it again.</summary>
    public void Release()
    {
        if (!Close()) return;
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
            catch (RtnetlinkException e) when (e.Errno == (int)Errno.EEXIST && attempt < 16 && rtnl.GetLink(outer) is not null)
            {
                // our generated name was taken; an EEXIST for the inner name is the caller's to see
            }
        }
    }

    private static void TryDelete(Rtnetlink rtnl, string outer)
    {
        // Deleting either end removes the pair; ENODEV means it is gone already (its inner
        // end's namespace was deleted, which destroys the pair with it).
        try { rtnl.DeleteLink(outer); } catch (RtnetlinkException e) when (e.Errno == (int)Errno.ENODEV) { }
    }

    // Once: stops following the inner end (its namespace is let go of with the last place there).
    private bool Close()
    {
        lock (_placeGate)
        {
            if (_disposed) return false;
            _disposed = true;
            _namespaces.Release(_place?.Namespace);
            return true;
        }
    }

    /// <summary>Closes the socket and deletes the veth pair. Call only after the datapath let go of the socket.</summary>
    public void Dispose(Rtnetlink hostRtnl)
    {
        if (_disposed) return;
        // the datapath's end was moved out of the switch's namespace by someone: the pair goes through
        // its inner end instead (while its namespace is still held), or it would outlive its endpoint
        // and its inner name would refuse the next endpoint of that name
        if (hostRtnl.GetLink(OuterIfIndex) is not { } outer || outer.Name != OuterName) TryDeleteInner();
        if (!Close()) return;
        Socket.Dispose();
        _io.Dispose();
        TryDelete(hostRtnl, OuterName);
    }

    private void TryDeleteInner()
    {
        if (Place is not { Namespace: { IsOpen: true } ns } place) return;
        try
        {
            using var rtnl = ns.Run(() => new Rtnetlink());
            if (rtnl.GetLink(place.IfIndex) is { Kind: "veth" }) rtnl.DeleteLink(place.IfIndex);
        }
        catch (Exception e) when (e is SystemCallException or NetlinkException) { /* gone meanwhile, or out of reach */ }
    }

    public void Dispose()
    {
        if (_disposed) return;
        using var rtnl = _hostNamespace is null ? new Rtnetlink() : Rtnetlink.InNamespace(_hostNamespace);
        Dispose(rtnl);
    }
}
