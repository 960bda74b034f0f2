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
        string? hostNamespace, PacketSocket socket)
    {
        Endpoint = endpoint;
        OuterName = outerName;
        OuterIfIndex = outerIndex;
        InnerName = innerName;
        InnerNamespace = innerNamespace;
        _hostNamespace = hostNamespace;
        Socket = socket;
        InnerMac = endpoint.Mac;
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
    public void Deliver(in Packet packet) => _io.Deliver(packet);
    public void Flush() => _io.Flush();

    public Endpoint Endpoint { get; }
    /// <summary>The datapath's end of the pair, in the switch's namespace.</summary>
    public string OuterName { get; }
    public int OuterIfIndex { get; }
    /// <summary>The endpoint's network interface, as its users see it.</summary>
    public string InnerName { get; }
    public string? InnerNamespace { get; private set; }
    /// <summary>Read and written by the datapath thread only.</summary>
    public PacketSocket Socket { get; }
    /// <summary>The MAC the inner end was last given (the endpoint's, unless a change is under way).</summary>
    public Core.Frames.MacAddress InnerMac { get; private set; }

    /// <summary>Gives the inner end the endpoint's current MAC if it differs (spec 4.1: an endpoint's
    /// address change is its interface's address change).</summary>
    public void SyncInnerMac()
    {
        var mac = Endpoint.Mac;
        if (_disposed || mac == InnerMac) return;
        using var rtnl = InnerNamespace is null
            ? (_hostNamespace is null ? new Rtnetlink() : Rtnetlink.InNamespace(_hostNamespace))
            : Rtnetlink.InNamespace(InnerNamespace);
        rtnl.SetLink(new LinkRequest { Name = InnerName, Address = mac });
        InnerMac = mac;
    }

    /// <summary>
    /// Creates the pair for <paramref name="endpoint"/>: outer end in <paramref name="hostNamespace"/> (null: the
    /// caller's), inner end named <paramref name="innerName"/> created directly inside <paramref name="innerNamespace"/>
    /// (null: next to the outer end). Both ends are brought up.
    /// </summary>
    public static MacvlanAttachment Create(Rtnetlink hostRtnl, string? hostNamespace, Endpoint endpoint, string innerName, string? innerNamespace)
    {
        using var innerNs = innerNamespace is null ? null : NetNamespace.Open(innerNamespace);
        string outer = CreatePair(hostRtnl, endpoint, innerName, innerNs);
        try
        {
            hostRtnl.SetUp(outer, true);
            if (innerNamespace is null) hostRtnl.SetUp(innerName, true);
            else
            {
                using var innerRtnl = Rtnetlink.InNamespace(innerNamespace);
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
            return new MacvlanAttachment(endpoint, outer, link.Index, innerName, innerNamespace, hostNamespace, socket);
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
        var inner = (innerRtnl ?? hostRtnl).GetLink(innerName);
        if (inner is not { Kind: "veth", Link: { } peerIndex }) return null;
        var outer = hostRtnl.GetLink(peerIndex);
        if (outer is not { Kind: "veth" } || !outer.Name.StartsWith("mvo", StringComparison.Ordinal)) return null;
        (innerRtnl ?? hostRtnl).SetLink(new LinkRequest { Name = innerName, Address = endpoint.Mac });
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
        return new MacvlanAttachment(endpoint, outer.Name, outer.Index, innerName, innerNamespace, hostNamespace, socket);
    }

    /// <summary>Moves the inner end into another named namespace (`link set NAME netns NS`).</summary>
    public void MoveTo(Rtnetlink hostRtnl, string netns)
    {
        using var innerRtnl = InnerNamespace is null ? null : Rtnetlink.InNamespace(InnerNamespace);
        using var target = NetNamespace.Open(netns);
        (innerRtnl ?? hostRtnl).MoveToNamespace(InnerName, target);
        InnerNamespace = netns;
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
