// A macvtap endpoint's QEMU `-netdev stream` attachment point (spec hypervisor-attachment 2.1):
// a unix stream socket at <run-dir>/tapN.stream; each frame travels as a 4-byte big-endian
// length and the raw Ethernet frame, with no vnet header. The datapath thread itself accepts
// and reads the socket into one preallocated buffer, cutting every complete frame out in place;
// frames for the guest are framed into a second buffer written once per wake-up
// (StreamAttachment.Output.cs). A length outside 14..65535 closes the connection: the stream is
// out of step and nothing after it can be trusted. One client is served at a time; who waits,
// and when a stalled or idle client loses the endpoint, is in StreamAttachment.Clients.cs.
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Linux;
using Mvtap.Linux.Interop;

namespace Mvtap.Datapath;

public sealed unsafe partial class StreamAttachment : IEndpointAttachment, IDisposable
{
    public const int MinFrame = 14;
    public const int MaxFrame = 65535;
    /// <summary>The largest frame handed to QEMU (whose stream reader takes up to 69632 bytes): a
    /// reassembled 65535-byte multicast datagram with its Ethernet header and a VLAN tag, which the
    /// kernel's macvtap hands its reader whole (spec 3.8).</summary>
    public const int MaxDeliveredFrame = 65535 + 18;
    private const int BufferSize = 1 << 20;
    private const int ListenerSource = 0, ConnectionSource = 1, TimerSource = 2;

    private readonly FileDescriptor _listener;
    private readonly GuestClaim _slot;
    private readonly int _slotId;
    private readonly Action<string> _log;
    private readonly byte[] _in = GC.AllocateUninitializedArray<byte>(BufferSize, pinned: true);
    private readonly byte[] _out = GC.AllocateUninitializedArray<byte>(BufferSize, pinned: true);
    private readonly int[] _offsets = new int[LowerDatapath.BatchSize];
    private readonly int[] _lengths = new int[LowerDatapath.BatchSize];
    private int _inStart, _inEnd, _outStart, _outEnd;
    private FileDescriptor? _connection;
    private LowerDatapath? _datapath;
    private bool _pending;
    private bool _disposed;
    private long _refused, _closedBadLength, _connections, _gsoSegments;

    private StreamAttachment(Endpoint endpoint, string path, FileDescriptor listener, FileDescriptor timer, GuestClaim slot, int slotId,
        Action<string>? log)
    {
        Endpoint = endpoint;
        SocketPath = path;
        _listener = listener;
        _timer = timer;
        _slot = slot;
        _slotId = slotId;
        _log = log ?? (_ => { });
    }

    public Endpoint Endpoint { get; }
    public string SocketPath { get; }
    public bool IsConnected => Volatile.Read(ref _connection) is not null;
    /// <summary>Clients closed at once: a guest was attached another way, or one client already waited.</summary>
    public long Refused => Volatile.Read(ref _refused);
    /// <summary>Connections closed for a frame length outside 14..65535.</summary>
    public long ClosedForBadLength => Volatile.Read(ref _closedBadLength);
    public long Connections => Volatile.Read(ref _connections);

    /// <summary>Binds <paramref name="path"/> (a stale file is replaced), mode 0660 with the given owner.
    /// <paramref name="log"/> gets a line when a client is closed for stalling or idling.</summary>
    public static StreamAttachment Listen(Endpoint endpoint, string path, int uid, int gid, GuestClaim slot, int slotId,
        Action<string>? log = null)
    {
        var listener = UnixSocket.Create();
        FileDescriptor? timer = null;
        try
        {
            if (File.Exists(path)) File.Delete(path);
            UnixSocket.Bind(listener, path);
            UnixSocket.SetMode(path, Convert.ToUInt32("660", 8));
            if (uid >= 0 || gid >= 0) UnixSocket.SetOwner(path, uid, gid);
            UnixSocket.Listen(listener);
            FileIo.SetNonBlocking(listener, true);
            timer = TimerFd.Create();
        }
        catch
        {
            listener.Dispose();
            timer?.Dispose();
            throw;
        }
        return new StreamAttachment(endpoint, path, listener, timer, slot, slotId, log);
    }

    public void SetOwner(int uid, int gid) => UnixSocket.SetOwner(SocketPath, uid, gid);

    public void SetDatapath(LowerDatapath? datapath)
    {
        _datapath = datapath;
        if (datapath is null)
        {
            CloseWaiting();
            CloseConnection();
        }
    }

    /// <summary>Source 0: the listener; 1: the connection; 2: the timer of the stall and idle rules.</summary>
    public int GetPollFds(Span<int> fds)
    {
        fds[ListenerSource] = _listener.Fd;
        fds[ConnectionSource] = _connection?.Fd ?? -1;
        fds[TimerSource] = _timer.Fd;
        return 3;
    }

    public int ReceiveBatch(int source, SocketFrameBatch scratch)
    {
        _pending = false;
        if (source == ListenerSource)
        {
            AcceptAll();
            return 0;
        }
        if (source == TimerSource)
        {
            OnTimer();
            return 0;
        }
        var connection = _connection;
        if (connection is null) return 0;
        // The previous batch has been forwarded: move the partial frame behind it to the front.
        if (_inStart > 0)
        {
            _in.AsSpan(_inStart, _inEnd - _inStart).CopyTo(_in);
            _inEnd -= _inStart;
            _inStart = 0;
        }
        int room = BufferSize - _inEnd;
        nint n;
        fixed (byte* p = _in) n = FileIo.read(connection.Fd, p + _inEnd, (nuint)room);
        if (n == 0) { CloseConnection(); return 0; }
        if (n < 0)
        {
            if (Marshal.GetLastPInvokeError() is (int)Errno.EAGAIN or (int)Errno.EINTR) return 0;
            CloseConnection();
            return -1;
        }
        _inEnd += (int)n;
        _lastInput = System.Diagnostics.Stopwatch.GetTimestamp();
        int count = 0;
        while (count < _offsets.Length && _inEnd - _inStart >= 4)
        {
            uint length = BinaryPrimitives.ReadUInt32BigEndian(_in.AsSpan(_inStart));
            if (length is < MinFrame or > MaxFrame)
            {
                Interlocked.Increment(ref _closedBadLength);
                Endpoint.Counters.AddDrop(DropReason.Malformed);
                // frames cut out before it are whole and still in the buffer: forward them
                CloseConnection();
                return count;
            }
            if (_inEnd - _inStart - 4 < length) break;
            _offsets[count] = _inStart + 4;
            _lengths[count] = (int)length;
            count++;
            _inStart += 4 + (int)length;
        }
        // more whole frames in the buffer, or the socket filled it: read again before sleeping
        _pending = count == _offsets.Length || n == room;
        // part of a frame left behind: its rest must come within StallTimeout
        if (_inEnd > _inStart) WatchStall();
        return count;
    }

    public ReceivedFrame GetFrame(int i, SocketFrameBatch scratch, out ReadOnlySpan<byte> frame, out VirtioNetHeader vnet)
    {
        frame = _in.AsSpan(_offsets[i], _lengths[i]);
        vnet = default;
        return ReceivedFrame.Frame;
    }

    public bool ReceivePending => _pending && _connection is not null;
    public int PendingSource => ConnectionSource;

    /// <summary>Call after the datapath let go: closes the connections, the listener and the timer,
    /// removes the file.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        CloseWaiting();
        CloseConnection();
        _listener.Dispose();
        _timer.Dispose();
        try { File.Delete(SocketPath); } catch (IOException) { }
    }
}
