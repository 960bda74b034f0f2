// The TPACKET_V2 receive ring of a packet socket: fixed-size frame slots in memory shared with
// the kernel, each handed over on its own (per-frame status and wake-up, so a lone frame is seen
// at once — a V3 ring hands over whole blocks and makes a quiet link wait for the block timer).
// The kernel copies each frame into a slot in the sender's own context (tpacket_rcv), so reading
// costs no system call and no copy. A frame larger than a slot (a 64 KB GSO frame, a jumbo
// frame) is not cut: with PACKET_COPY_THRESH the kernel queues it whole on the socket's normal
// receive queue and marks its slot TP_STATUS_COPY, so the reader takes it with recv in order.
using Mvtap.Linux.Interop;

namespace Mvtap.Linux;

/// <summary>TPACKET_V2 ring geometry: <paramref name="FrameSize"/> bytes per slot (a multiple of 16,
/// header and virtio-net header included), <paramref name="FrameCount"/> slots.</summary>
public readonly record struct PacketFrameRingGeometry(int FrameSize, int FrameCount)
{
    /// <summary>512 slots of 2 KiB (1 MiB): an Ethernet frame of MTU 1500 with its VLAN tag and
    /// virtio-net header fits a slot; eight datapath batches of slack.</summary>
    public static PacketFrameRingGeometry Default => new(2048, 512);
}

public sealed unsafe class PacketFrameRing : IDisposable
{
    /// <summary>Slots per kernel block: blocks are allocated as contiguous pages (64 KiB here).</summary>
    private const int BlockSize = 64 * 1024;

    private nint _memory;
    private readonly nint _length;
    private readonly int _frameSize;
    private readonly int _frameCount;
    private readonly int _vnetHeaderSize;
    private int _head;     // the next slot to read
    private int _held;     // slots read and not yet handed back, ending at _head

    internal PacketFrameRing(FileDescriptor socket, PacketFrameRingGeometry g, int vnetHeaderSize)
    {
        if (g.FrameSize < 256 || g.FrameSize % 16 != 0 || BlockSize % g.FrameSize != 0)
            throw new ArgumentException($"frame size {g.FrameSize} must be a multiple of 16 that divides {BlockSize}");
        int perBlock = BlockSize / g.FrameSize;
        int blocks = Math.Max(1, (g.FrameCount + perBlock - 1) / perBlock);
        var req = new TpacketReq
        {
            BlockSize = BlockSize,
            BlockCount = (uint)blocks,
            FrameSize = (uint)g.FrameSize,
            FrameCount = (uint)(blocks * perBlock),
        };
        // Oversized frames go whole to the receive queue instead of being cut to the slot.
        Sockets.SetInt(socket, PacketAbi.SOL_PACKET, PacketAbi.PACKET_COPY_THRESH, 1, "setsockopt(PACKET_COPY_THRESH)");
        Libc.Check(Sockets.setsockopt(socket.Fd, PacketAbi.SOL_PACKET, PacketAbi.PACKET_RX_RING, &req, (uint)sizeof(TpacketReq)), "setsockopt(PACKET_RX_RING)");
        _length = (nint)BlockSize * blocks;
        _memory = Mmap.Map(_length, Mmap.PROT_READ | Mmap.PROT_WRITE, Mmap.MAP_SHARED | Mmap.MAP_POPULATE, socket.Fd, 0);
        GC.KeepAlive(socket);
        _frameSize = g.FrameSize;
        _frameCount = (int)req.FrameCount;
        _vnetHeaderSize = vnetHeaderSize;
    }

    public int FrameCount => _frameCount;
    /// <summary>Slots read with <see cref="TryReceive"/> and not yet handed back.</summary>
    public int Held => _held;

    /// <summary>True if the next slot holds a frame (one memory read, no system call).</summary>
    public bool HasFrame => _memory != 0 && _held < _frameCount && (Volatile.Read(ref Slot(_head)->Status) & PacketAbi.TP_STATUS_USER) != 0;

    /// <summary>
    /// The next received frame, read in place. It stays valid, and its slot stays ours, until
    /// <see cref="Release"/>: take a batch, forward it, then release it before sleeping (a slot
    /// still held makes the socket poll readable).
    /// </summary>
    public bool TryReceive(out RingFrame frame)
    {
        ObjectDisposedException.ThrowIf(_memory == 0, this);
        var h = Slot(_head);
        // Acquire: the slot's bytes are read after its status says it is ours.
        uint status = Volatile.Read(ref h->Status);
        if ((status & PacketAbi.TP_STATUS_USER) == 0 || _held == _frameCount)
        {
            frame = default;
            return false;
        }
        _head = _head + 1 == _frameCount ? 0 : _head + 1;
        _held++;
        var ll = (SockaddrLl*)((byte*)h + TpacketHeaderLength);
        int mac = h->Mac;
        int snap = (int)h->SnapLength;
        // The kernel's own offsets; checked so a corrupt slot can never send a read outside it.
        if (mac < TpacketHeaderLength + _vnetHeaderSize || mac + snap > _frameSize) snap = mac = 0;
        frame = new RingFrame
        {
            Data = mac == 0 ? default : new ReadOnlySpan<byte>((byte*)h + mac - _vnetHeaderSize, snap + _vnetHeaderSize),
            WireLength = h->Length,
            PacketType = ll->PktType,
            IfIndex = ll->IfIndex,
            Status = status,
            VlanTci = h->VlanTci,
            VlanTpid = (status & PacketAbi.TP_STATUS_VLAN_TPID_VALID) != 0 ? h->VlanTpid : (ushort)0x8100,
        };
        return true;
    }

    /// <summary>Hands every held slot back to the kernel; frames read from them become invalid.</summary>
    public void Release()
    {
        int i = _head - _held;
        if (i < 0) i += _frameCount;
        for (; _held > 0; _held--)
        {
            // Release: our reads of the slot happen before the kernel may overwrite it.
            Volatile.Write(ref Slot(i)->Status, PacketAbi.TP_STATUS_KERNEL);
            i = i + 1 == _frameCount ? 0 : i + 1;
        }
    }

    /// <summary>TPACKET_ALIGN(sizeof(tpacket2_hdr)): where the sockaddr_ll follows the header.</summary>
    internal const int TpacketHeaderLength = 32;

    // Slots never straddle blocks; blocks are contiguous in the mapping.
    private Tpacket2Hdr* Slot(int i)
    {
        int perBlock = BlockSize / _frameSize;
        return (Tpacket2Hdr*)(_memory + (nint)(i / perBlock) * BlockSize + (nint)(i % perBlock) * _frameSize);
    }

    public void Dispose()
    {
        Unmap();
        GC.SuppressFinalize(this);
    }

    ~PacketFrameRing() => Unmap();

    private void Unmap()
    {
        if (_memory == 0) return;
        Mmap.Unmap(_memory, _length);
        _memory = 0;
        _held = 0;
    }
}
