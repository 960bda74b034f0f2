// How the datapath thread reads a batch from a socket's TPACKET_V2 ring (a lower device, a
// veth's outer end, a TAP's network side). Frames are forwarded in place from the ring — the
// kernel copied them there in the sender's own context, so a batch costs no system call. The
// few that cannot be used in place are copied into the datapath's scratch slots first: a frame
// larger than a ring slot (a 64 KB GSO frame, a jumbo frame), which the kernel queued whole on
// the socket (TP_STATUS_COPY) and recv takes, and a VLAN-tagged frame whose tag the kernel moved
// into metadata and which must be forwarded as it was sent (spec 3.7, R24). Release hands the
// batch back once it has been forwarded; a slot still held makes the socket poll readable.
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Mvtap.Core.Frames;
using Mvtap.Linux;
using Mvtap.Linux.Interop;

namespace Mvtap.Datapath;

internal sealed unsafe class RingReceiver
{
    private const int VnetSize = PacketAbi.VirtioNetHdrSize;
    private readonly PacketSocket _socket;
    private readonly PacketFrameRing _ring;
    // frame i of the batch: where it is (ring or scratch), its length with the vnet header, its type
    private readonly nint[] _data = new nint[LowerDatapath.BatchSize];
    private readonly int[] _length = new int[LowerDatapath.BatchSize];
    private readonly byte[] _type = new byte[LowerDatapath.BatchSize];
    private readonly Cut[] _cut = new Cut[LowerDatapath.BatchSize];

    private enum Cut : byte
    {
        None,
        /// <summary>Longer than our slot, or a slot the kernel left without the frame's head.</summary>
        Truncated,
        /// <summary>Larger than a ring slot while the socket's receive queue was full: the kernel kept
        /// only the head, the frame is lost (its receive buffer overflowed, as a full socket drops).</summary>
        Overflow,
    }

    public RingReceiver(PacketSocket socket)
    {
        if (socket.FrameRing is not { } ring || socket.VnetHeaderSize != VnetSize)
            throw new ArgumentException("the datapath reads sockets with a frame ring and the virtio-net header", nameof(socket));
        _socket = socket;
        _ring = ring;
    }

    /// <summary>More frames are waiting in the ring (check again before sleeping).</summary>
    public bool Pending => _ring.HasFrame;

    /// <summary>Takes up to a batch of frames; returns the count, or -1 when the socket reports an
    /// error (its device went away) instead of frames. Copies go to <paramref name="scratch"/>'s slots.</summary>
    public int Receive(SocketFrameBatch scratch)
    {
        _ring.Release();
        int max = Math.Min(scratch.Capacity, _data.Length);
        int n = 0;
        while (n < max && _ring.TryReceive(out var f))
        {
            _type[n] = f.PacketType;
            _cut[n] = Cut.None;
            if (f.CopiedToQueue) TakeQueued(scratch, n, f);
            else if (f.Data.Length < VnetSize) _cut[n] = Cut.Truncated;
            else if ((uint)(f.Data.Length - VnetSize) < f.WireLength) _cut[n] = Cut.Overflow;
            else if (f.VlanValid) Place(scratch, n, f.Data, f.VlanTpid, f.VlanTci);
            else
            {
                _data[n] = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(f.Data));
                _length[n] = f.Data.Length;
            }
            n++;
        }
        if (n == 0 && Sockets.GetInt(_socket.Handle, Sockets.SOL_SOCKET, Sockets.SO_ERROR, "getsockopt(SO_ERROR)") != 0)
            return -1; // reading SO_ERROR clears it, so a level-triggered epoll does not spin on it
        return n;
    }

    /// <summary>Frame <paramref name="i"/> of the last batch, split into its virtio-net header and Ethernet frame.</summary>
    public ReceivedFrame GetFrame(int i, DatapathStats? stats, out ReadOnlySpan<byte> frame, out VirtioNetHeader vnet)
    {
        frame = default;
        vnet = default;
        // Ignore-outgoing is set on every datapath socket; checking the type as well keeps a socket
        // without it from feeding our own transmissions back in (a forwarding loop).
        if (_type[i] == PacketAbi.PACKET_OUTGOING) return ReceivedFrame.Ignore;
        if (_cut[i] == Cut.Overflow)
        {
            if (stats is not null) stats.overflows++;
            return ReceivedFrame.Overflow;
        }
        if (_cut[i] == Cut.Truncated)
        {
            if (stats is not null) stats.truncated++;
            return ReceivedFrame.Malformed;
        }
        var data = new ReadOnlySpan<byte>((void*)_data[i], _length[i]);
        vnet = VirtioNetHeader.Read(data[..VnetSize]);
        if (vnet.IsGso && stats is not null) stats.gsoFrames++;
        frame = data[VnetSize..];
        return ReceivedFrame.Frame;
    }

    /// <summary>Hands the batch's ring slots back to the kernel (after forwarding, before sleeping).</summary>
    public void Release() => _ring.Release();

    // The kernel queued the whole frame (vnet header first) when it did not fit a slot.
    private void TakeQueued(SocketFrameBatch scratch, int i, in RingFrame f)
    {
        var slot = scratch.Slot(i);
        nint got;
        fixed (byte* p = slot) got = Sockets.recvfrom(_socket.Handle.Fd, p, (nuint)slot.Length, Sockets.MSG_DONTWAIT | Sockets.MSG_TRUNC, null, null);
        GC.KeepAlive(_socket);
        if (got < VnetSize || got > slot.Length) { _cut[i] = Cut.Truncated; return; }
        if (f.VlanValid) Place(scratch, i, slot[..(int)got], f.VlanTpid, f.VlanTci);
        else
        {
            _data[i] = (nint)scratch.Pointer(i);
            _length[i] = (int)got;
        }
    }

    /// <summary>Copies <paramref name="data"/> (vnet header + frame) into scratch slot <paramref name="i"/> with
    /// its VLAN tag back after the MAC addresses; a checksum offset in the virtio-net header moves
    /// with the bytes, as tap does when it re-inserts a tag.</summary>
    private void Place(SocketFrameBatch scratch, int i, ReadOnlySpan<byte> data, ushort tpid, ushort tci)
    {
        var slot = scratch.Slot(i);
        int at = VnetSize + 12;
        if (data.Length < at || data.Length + 4 > slot.Length) { _cut[i] = Cut.Truncated; return; }
        // backwards-safe when data already lies in this slot: move the tail first
        data[at..].CopyTo(slot[(at + 4)..]);
        data[..at].CopyTo(slot);
        BinaryPrimitives.WriteUInt16BigEndian(slot[at..], tpid);
        BinaryPrimitives.WriteUInt16BigEndian(slot[(at + 2)..], tci);
        if ((slot[0] & VirtioNetHeader.FlagNeedsCsum) != 0) // csum_start at offset 6
            BinaryPrimitives.WriteUInt16LittleEndian(slot[6..], (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(slot[6..]) + 4));
        _data[i] = (nint)scratch.Pointer(i);
        _length[i] = data.Length + 4;
    }
}
