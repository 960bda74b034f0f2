// How a `tap` macvtap endpoint is attached: a persistent TAP in the pod's namespace whose queue
// QEMU opens by name (PersistentTap), and an AF_PACKET socket on the TAP's network side that the
// datapath reads and writes like a veth's outer end (PacketSocketIo: ring, batches, vnet header).
// Frames the guest writes on its queue arrive on the socket; frames sent on the socket reach the
// queue, or are dropped and counted by the TAP itself while nobody holds one (no carrier: no guest).
// The pod's owner controls the TAP: renaming it changes nothing here (the socket is bound by
// index); setting it down stops its frames until it is up again (the socket follows the device);
// deleting it (or moving it away) makes the socket report an error, and the datapath thread hands
// that to the control side (Check, on the thread pool), which makes the TAP again under its name
// and offers the datapath a new socket; a namespace that is gone leaves the endpoint without a
// carrier until it is deleted (CNI DEL). Its MAC and MTU are the endpoint's (as a kernel macvtap's
// are its device's): changed by the pod's owner (`ip link set net1 mtu 9000`), they are put back,
// logged once per change and counted (PutBack: every WatchInterval, and before `link show -d`
// reads the TAP), so frames up to the endpoint's MTU are never dropped by a TAP set smaller.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Linux;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

namespace Mvtap.Datapath;

public sealed class PersistentTapAttachment : IEndpointAttachment, IDisposable
{
    private readonly object _gate = new(); // control side: Check, Follow, Dispose
    private readonly Action<string> _log;
    private readonly WaitCallback _check;
    private readonly SwappablePacketIo _socket;
    private int _checkQueued;
    private long _errors, _remade;
    private bool _disposed;
    private (MacAddress Mac, int Mtu, bool Up)? _followed;
    private (MacAddress? Mac, uint Mtu)? _lastTampered; // logged already
    private long _putBack;
    private readonly Timer _watch;

    /// <summary>How often the TAP's MAC and MTU are compared with the endpoint's.</summary>
    public static readonly TimeSpan WatchInterval = TimeSpan.FromSeconds(1);

    public PersistentTapAttachment(Endpoint endpoint, PersistentTap tap, int uid, int gid, Action<string> log)
    {
        Endpoint = endpoint;
        Tap = tap;
        Uid = uid;
        Gid = gid;
        _log = log;
        _check = _ => Check();
        _socket = new SwappablePacketIo(this);
        Follow();
        _socket.Offer(tap.OpenSocket());
        _watch = new Timer(_ => PutBack(), null, WatchInterval, WatchInterval);
    }

    public Endpoint Endpoint { get; }
    public PersistentTap Tap { get; }
    /// <summary>The TAP's owner and group (-1: none), as it was made with them.</summary>
    public int Uid { get; }
    public int Gid { get; }
    /// <summary>Errors the TAP's socket reported (the TAP set down, deleted or moved away).</summary>
    public long SocketErrors => Interlocked.Read(ref _errors);
    /// <summary>How often the TAP was made again after somebody deleted it.</summary>
    public long Remade => Interlocked.Read(ref _remade);
    /// <summary>How often the pod's owner changed the TAP's MAC or MTU and it was put back.</summary>
    public long PutBackChanges => Interlocked.Read(ref _putBack);
    /// <summary>The TAP is gone and could not be made again (its namespace is gone): no carrier.</summary>
    public bool Lost { get; private set; }

    // ---- the datapath thread ---------------------------------------------------------------

    public void SetDatapath(LowerDatapath? datapath) => _socket.SetDatapath(datapath);

    public int GetPollFds(Span<int> fds) => _socket.GetPollFds(fds);

    public int ReceiveBatch(int source, SocketFrameBatch scratch)
    {
        if (_socket.Current is not { } io) return 0;
        int n = io.ReceiveBatch(scratch);
        if (n < 0)
        {
            // ENETDOWN: set down, or unregistered. Which, and what to do, is the control side's to find out.
            Interlocked.Increment(ref _errors);
            if (Interlocked.Exchange(ref _checkQueued, 1) == 0) ThreadPool.QueueUserWorkItem(_check);
        }
        return n;
    }

    public ReceivedFrame GetFrame(int i, SocketFrameBatch scratch, out ReadOnlySpan<byte> frame, out VirtioNetHeader vnet) =>
        _socket.Current!.GetFrame(i, scratch, out frame, out vnet);

    public void EndReceive() => _socket.Current?.EndReceive();
    public long TakeSocketOverruns() => _socket.Current?.TakeSocketOverruns() ?? 0;
    public bool ReceivePending => _socket.Current?.ReceivePending ?? false;
    public int PendingSource => 0;

    public void Deliver(in VnetFrame packet)
    {
        if (_socket.Current is not { } io) { Endpoint.Counters.CountRxDrop(DropReason.EndpointGone); return; }
        // A reassembled multicast datagram larger than the MTU (spec 3.8): the TAP carries the endpoint's
        // MTU, which a socket send above it is refused; an IPv4 one goes as fragments that fit.
        int mtu = Endpoint.Mtu;
        if (packet.Length > mtu + EthernetFrame.HeaderLength && io.DeliverFragmented(packet, mtu)) return;
        io.Deliver(packet);
    }

    public void Flush() => _socket.Current?.Flush();

    // ---- the control side ------------------------------------------------------------------

    /// <summary>Makes the TAP carry the endpoint's MAC, MTU and admin state (after each change of the endpoint).</summary>
    public void Follow()
    {
        lock (_gate)
        {
            if (_disposed || Lost || Endpoint.IsDeleted) return;
            var now = (Endpoint.Mac, Endpoint.Mtu, Endpoint.IsUp);
            if (_followed == now) return;
            Tap.Follow(now.Mac, now.Mtu, now.IsUp);
            _followed = now;
        }
    }

    /// <summary>What the socket's error meant: nothing to do while the TAP is still there (set down by the
    /// endpoint or by the pod's owner; its socket follows it back up); made again when it was deleted.</summary>
    internal void Check()
    {
        Volatile.Write(ref _checkQueued, 0);
        lock (_gate)
        {
            if (_disposed) return;
            try
            {
                if (Tap.Read() is not null) return;
                _log($"its tap {Tap.Name} was deleted{In}; making it again");
                Tap.Remake(Uid, Gid);
                _followed = null;
                Follow();
                _socket.Offer(Tap.OpenSocket());
                Interlocked.Increment(ref _remade);
            }
            catch (Exception e) when (e is SystemCallException or NetlinkException or MvtapException or IOException)
            {
                Lost = true;
                _log($"its tap {Tap.Name}{In} cannot be made again ({e.Message}): no carrier until the endpoint is deleted");
            }
        }
    }

    /// <summary>Puts back the endpoint's MAC and MTU on a TAP whose owner changed them (its admin state
    /// is the pod owner's to change: its socket follows it). Deletion is Check's.</summary>
    internal void PutBack()
    {
        lock (_gate)
        {
            if (_disposed || Lost || Endpoint.IsDeleted) return;
            try
            {
                // what mvtapd last gave it, not the endpoint's now: a change of the endpoint is Follow's
                if (_followed is not { } given || Tap.Read() is not { } link) return;
                var (mac, mtu) = (given.Mac, given.Mtu);
                if (link.Mtu == (uint)mtu && (link.Address is null || link.Address == mac)) { _lastTampered = null; return; }
                var seen = (link.Address, link.Mtu);
                if (_lastTampered != seen)
                {
                    _log($"its tap {Tap.Name}{In} was given address {link.Address} mtu {link.Mtu}; the endpoint's are {mac} mtu {mtu}: put back");
                    _lastTampered = seen;
                }
                Tap.Follow(mac, mtu, up: null);
                Interlocked.Increment(ref _putBack);
            }
            catch (Exception e) when (e is SystemCallException or NetlinkException or MvtapException)
            {
                // gone or moved meanwhile: the socket's error makes Check look
            }
            catch (Exception e)
            {
                // runs on a timer: anything else escaping would end the daemon; said, and tried again next time
                _log($"putting its tap {Tap.Name}{In} back failed: {e.GetType().Name}: {e.Message}");
            }
        }
    }

    private string In => Tap.NetnsName is null ? "" : $" in namespace {Tap.NetnsName}";

    /// <summary>The TAP now, for `link show -d`: null when it is gone.</summary>
    public LinkInfo? ReadTap()
    {
        lock (_gate)
        {
            if (_disposed || Lost) return null;
        }
        PutBack(); // so what is shown is the endpoint's, not a change about to be put back
        lock (_gate)
        {
            if (_disposed || Lost) return null;
            try { return Tap.Read(); }
            catch (Exception e) when (e is SystemCallException or NetlinkException) { return null; }
        }
    }

    /// <summary>After the datapath let go: closes the sockets and, unless <paramref name="keepTap"/>
    /// (mvtapd stopping, to adopt it again), deletes the TAP.</summary>
    public void Dispose(bool keepTap)
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _watch.Dispose();
            _socket.Dispose();
            try { if (!keepTap) Tap.Delete(); }
            finally { Tap.Dispose(); }
        }
    }

    public void Dispose() => Dispose(keepTap: false);
}
