// A macvtap endpoint's QEMU `-netdev stream` attachment point (spec hypervisor-attachment 2.1):
// a unix stream socket at <run-dir>/tapN.stream; each frame travels as a 4-byte big-endian
// length and the raw Ethernet frame, with no vnet header. The datapath thread itself accepts
// (one client at a time: a second is closed at once) and reads the socket into one
// preallocated buffer, cutting every complete frame out in place; frames for the guest are
// framed into a second buffer written once per wake-up. A length outside 14..65535 closes the
// connection: the stream is out of step and nothing after it can be trusted. With no vnet
// header to carry offloads, a GSO frame for the guest is cut into wire frames (GsoSegmenter)
// and partial checksums are completed, as the kernel does for a tap queue without IFF_VNET_HDR.
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Linux.Interop;

namespace Mvtap.Linux.Datapath;

public sealed unsafe class StreamAttachment : IEndpointAttachment, IDisposable
{
    public const int MinFrame = 14;
    public const int MaxFrame = 65535;
    /// <summary>The largest frame handed to QEMU (whose stream reader takes up to 69632 bytes): a
    /// reassembled 65535-byte multicast datagram with its Ethernet header and a VLAN tag, which the
    /// kernel's macvtap hands its reader whole (spec 3.8).</summary>
    public const int MaxDeliveredFrame = 65535 + 18;
    private const int BufferSize = 1 << 20;
    private const int EAGAIN = 11;

    private readonly FileDescriptor _listener;
    private readonly GuestSlot _slot;
    private readonly int _slotId;
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

    private StreamAttachment(Endpoint endpoint, string path, FileDescriptor listener, GuestSlot slot, int slotId)
    {
        Endpoint = endpoint;
        SocketPath = path;
        _listener = listener;
        _slot = slot;
        _slotId = slotId;
    }

    public Endpoint Endpoint { get; }
    public string SocketPath { get; }
    public bool IsConnected => Volatile.Read(ref _connection) is not null;
    /// <summary>Clients closed at once because a guest was attached already.</summary>
    public long Refused => Volatile.Read(ref _refused);
    /// <summary>Connections closed for a frame length outside 14..65535.</summary>
    public long ClosedForBadLength => Volatile.Read(ref _closedBadLength);
    public long Connections => Volatile.Read(ref _connections);

    /// <summary>Binds <paramref name="path"/> (a stale file is replaced), mode 0660 with the given owner.</summary>
    public static StreamAttachment Listen(Endpoint endpoint, string path, int uid, int gid, GuestSlot slot, int slotId)
    {
        var listener = UnixSocket.Create();
        try
        {
            if (File.Exists(path)) File.Delete(path);
            UnixSocket.Bind(listener, path);
            UnixSocket.SetMode(path, Convert.ToUInt32("660", 8));
            if (uid >= 0 || gid >= 0) UnixSocket.SetOwner(path, uid, gid);
            UnixSocket.Listen(listener);
            FileIo.SetNonBlocking(listener, true);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
        return new StreamAttachment(endpoint, path, listener, slot, slotId);
    }

    public void SetOwner(int uid, int gid) => UnixSocket.SetOwner(SocketPath, uid, gid);

    public void SetDatapath(LowerDatapath? datapath)
    {
        _datapath = datapath;
        if (datapath is null) CloseConnection();
    }

    /// <summary>Source 0: the listener; source 1: the connection.</summary>
    public int GetPollFds(Span<int> fds)
    {
        fds[0] = _listener.Fd;
        fds[1] = _connection?.Fd ?? -1;
        return 2;
    }

    public int ReceiveBatch(int source, FrameBatch scratch)
    {
        _pending = false;
        if (source == 0)
        {
            AcceptAll();
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
            if (Marshal.GetLastPInvokeError() is EAGAIN or 4 /* EINTR */) return 0;
            CloseConnection();
            return -1;
        }
        _inEnd += (int)n;
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
        return count;
    }

    public ReceivedFrame GetFrame(int i, FrameBatch scratch, out ReadOnlySpan<byte> frame, out VirtioNetHeader vnet)
    {
        frame = _in.AsSpan(_offsets[i], _lengths[i]);
        vnet = default;
        return ReceivedFrame.Frame;
    }

    public bool ReceivePending => _pending && _connection is not null;
    public int PendingSource => 1;

    public void Deliver(in Packet packet)
    {
        if (_connection is null) { Endpoint.Counters.CountRxDrop(DropReason.QueueFull); return; }
        // No vnet header on a stream: QEMU hid the offloads from its guest, so a super-frame is
        // cut into wire-sized frames here, checksums computed, as the kernel's tap does for a
        // queue without IFF_VNET_HDR (spec 5.6).
        if (packet.Vnet.IsGso) { DeliverSegmented(packet); return; }
        if (packet.Length > MaxDeliveredFrame) { Endpoint.Counters.CountRxDrop(DropReason.AttachmentError); return; }
        var dst = ReserveFrame(packet.Length);
        if (dst.IsEmpty) { Endpoint.Counters.CountRxDrop(DropReason.QueueFull); return; }
        packet.Frame.CopyTo(dst);
        if (packet.Vnet.NeedsCsum && !PartialChecksum.Complete(dst, packet.Vnet.CsumStart, packet.Vnet.CsumOffset))
        {
            Endpoint.Counters.CountRxDrop(DropReason.BadVirtioHeader);
            return;
        }
        CommitFrame(packet.Length);
    }

    /// <summary>Segments that reached the output buffer from GSO frames.</summary>
    public long GsoSegments => Volatile.Read(ref _gsoSegments);

    private void DeliverSegmented(in Packet packet)
    {
        var sink = new SegmentSink(this);
        var verdict = GsoSegmenter.Segment(packet.Frame, packet.Vnet, keepPartialChecksum: false, ref sink, out _, out int written);
        Interlocked.Add(ref _gsoSegments, written);
        if (verdict == GsoVerdict.Segmented) return;
        Endpoint.Counters.CountRxDrop(verdict switch
        {
            GsoVerdict.SinkFull => DropReason.QueueFull,
            GsoVerdict.Unsupported => DropReason.AttachmentError,
            _ => DropReason.BadVirtioHeader,
        });
    }

    /// <summary>Room for a frame of <paramref name="length"/> bytes behind its length prefix,
    /// flushing once if the buffer is full; empty when there is none.</summary>
    private Span<byte> ReserveFrame(int length)
    {
        if (length > MaxDeliveredFrame) return default;
        int need = 4 + length;
        if (BufferSize - _outEnd < need)
        {
            Flush();
            if (BufferSize - _outEnd < need) return default;
        }
        return _out.AsSpan(_outEnd + 4, length);
    }

    private void CommitFrame(int length)
    {
        BinaryPrimitives.WriteUInt32BigEndian(_out.AsSpan(_outEnd), (uint)length);
        _outEnd += 4 + length;
    }

    // GSO segments go straight into the output buffer, each behind its own length prefix.
    private readonly struct SegmentSink(StreamAttachment owner) : ISegmentSink
    {
        public Span<byte> Reserve(int length) => owner.ReserveFrame(length);
        public void Commit(int length, in VirtioNetHeader header) => owner.CommitFrame(length);
    }

    public void Flush()
    {
        var connection = _connection;
        if (connection is null || _outEnd == _outStart) return;
        nint n;
        fixed (byte* p = _out) n = FileIo.write(connection.Fd, p + _outStart, (nuint)(_outEnd - _outStart));
        if (n > 0) _outStart += (int)n;
        else if (n < 0 && Marshal.GetLastPInvokeError() is not (EAGAIN or 4))
        {
            CloseConnection();
            return;
        }
        if (_outStart == _outEnd) _outStart = _outEnd = 0;
        else if (_outStart > BufferSize / 2)
        {
            // keep a frame cut by a short write whole and in order: move the rest to the front
            _out.AsSpan(_outStart, _outEnd - _outStart).CopyTo(_out);
            _outEnd -= _outStart;
            _outStart = 0;
        }
    }

    private void AcceptAll()
    {
        while (true)
        {
            FileDescriptor client;
            try { client = UnixSocket.Accept(_listener); }
            catch (SystemCallException) { return; } // EAGAIN: none left
            if (_connection is not null || !_slot.TryClaim(_slotId))
            {
                Interlocked.Increment(ref _refused);
                client.Dispose();
                continue;
            }
            FileIo.SetNonBlocking(client, true);
            _inStart = _inEnd = _outStart = _outEnd = 0;
            Volatile.Write(ref _connection, client);
            Interlocked.Increment(ref _connections);
            _datapath?.RequestResync(this);
        }
    }

    private void CloseConnection()
    {
        var connection = _connection;
        if (connection is null) return;
        Volatile.Write(ref _connection, null);
        _datapath?.Unwatch(this, connection.Fd);
        connection.Dispose();
        _inStart = _inEnd = _outStart = _outEnd = 0;
        _pending = false;
        _slot.Release(_slotId);
    }

    /// <summary>Call after the datapath let go: closes the connection and the listener, removes the file.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        CloseConnection();
        _listener.Dispose();
        try { File.Delete(SocketPath); } catch (IOException) { }
    }
}
