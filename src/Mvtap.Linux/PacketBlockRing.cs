// The TPACKET_V3 receive ring of a packet socket (blocks of frames; the datapath reads lowers and
// endpoints with the per-frame TPACKET_V2 PacketFrameRing instead, this one serves observers and
// benchmarks): the kernel fills blocks of frames in shared
// memory and hands each block over whole; we read frames in place and hand the block back.
using Mvtap.Linux.Interop;

namespace Mvtap.Linux;

/// <summary>TPACKET_V3 ring geometry. Block size must be a multiple of the page size and hold the largest frame.</summary>
public readonly record struct PacketRingGeometry(int BlockSize, int BlockCount, int RetireTimeoutMs)
{
    /// <summary>8 × 1 MiB blocks, retired after at most 1 ms so a quiet link still delivers promptly.</summary>
    public static PacketRingGeometry Default => new(1 << 20, 8, 1);
}

/// <summary>One frame in the ring, valid until the next <see cref="PacketBlockRing.TryReceive"/>.</summary>
public readonly ref struct RingFrame
{
    /// <summary>The frame as the kernel wrote it: a 10-byte virtio-net header first when PACKET_VNET_HDR is on.</summary>
    public ReadOnlySpan<byte> Data { get; init; }
    /// <summary>The frame's length on the wire (before any snap); more than the Ethernet part of Data if cut.</summary>
    public uint WireLength { get; init; }
    public byte PacketType { get; init; }
    public int IfIndex { get; init; }
    public uint Status { get; init; }
    public ushort VlanTci { get; init; }
    /// <summary>The tag's TPID (0x8100 or 0x88a8) when <see cref="VlanValid"/>.</summary>
    public ushort VlanTpid { get; init; }
    public bool VlanValid => (Status & PacketAbi.TP_STATUS_VLAN_VALID) != 0;
    /// <summary>TPACKET_V2: the frame did not fit its slot; Data is cut and the whole frame waits on the socket's receive queue.</summary>
    public bool CopiedToQueue => (Status & PacketAbi.TP_STATUS_COPY) != 0;
}

public sealed unsafe class PacketBlockRing : IDisposable
{
    private nint _memory;
    private readonly nint _length;
    private readonly int _blockSize;
    private readonly int _blockCount;
    private readonly int _vnetHeaderSize;
    private int _block;                  // the block being read
    private TpacketBlockDesc* _current;  // null when not holding a block
    private uint _remaining;
    private Tpacket3Hdr* _next;

    internal PacketBlockRing(FileDescriptor socket, PacketRingGeometry g, int vnetHeaderSize)
    {
        if (g.BlockSize <= 0 || g.BlockSize % Environment.SystemPageSize != 0)
            throw new ArgumentException("block size must be a positive multiple of the page size");
        const int frameSize = 2048; // only used by the kernel's sanity checks for V3
        var req = new TpacketReq3
        {
            BlockSize = (uint)g.BlockSize,
            BlockCount = (uint)g.BlockCount,
            FrameSize = frameSize,
            FrameCount = (uint)(g.BlockSize / frameSize * g.BlockCount),
            RetireBlockTimeoutMs = (uint)g.RetireTimeoutMs,
        };
        Libc.Check(Sockets.setsockopt(socket.Fd, PacketAbi.SOL_PACKET, PacketAbi.PACKET_RX_RING, &req, (uint)sizeof(TpacketReq3)), "setsockopt(PACKET_RX_RING)");
        _length = (nint)g.BlockSize * g.BlockCount;
        _memory = Mmap.Map(_length, Mmap.PROT_READ | Mmap.PROT_WRITE, Mmap.MAP_SHARED | Mmap.MAP_POPULATE, socket.Fd, 0);
        GC.KeepAlive(socket);
        _blockSize = g.BlockSize;
        _blockCount = g.BlockCount;
        _vnetHeaderSize = vnetHeaderSize;
    }

    /// <summary>True if a frame is ready without waiting.</summary>
    public bool HasFrame
    {
        get
        {
            if (_remaining > 0) return true;
            int next = _current == null ? _block : (_block + 1) % _blockCount;
            return (Volatile.Read(ref Block(next)->BlockStatus) & PacketAbi.TP_STATUS_USER) != 0;
        }
    }

    /// <summary>
    /// The next received frame, read in place; false if the ring is empty. Returning a block to the
    /// kernel happens on the call after its last frame, so the frame returned stays valid until then.
    /// </summary>
    public bool TryReceive(out RingFrame frame)
    {
        ObjectDisposedException.ThrowIf(_memory == 0, this);
        if (_current != null && _remaining == 0) ReleaseCurrent();
        if (_current == null)
        {
            var b = Block(_block);
            // Acquire: the frame bytes must be read after the status says the block is ours.
            if ((Volatile.Read(ref b->BlockStatus) & PacketAbi.TP_STATUS_USER) == 0)
            {
                frame = default;
                return false;
            }
            _current = b;
            _remaining = b->PacketCount;
            _next = (Tpacket3Hdr*)((byte*)b + b->OffsetToFirstPacket);
            if (_remaining == 0) { ReleaseCurrent(); frame = default; return false; }
        }

        var h = _next;
        _remaining--;
        _next = (Tpacket3Hdr*)((byte*)h + h->NextOffset);
        var ll = (SockaddrLl*)((byte*)h + TpacketHeaderLength);
        byte* start = (byte*)h + h->Mac - _vnetHeaderSize;
        frame = new RingFrame
        {
            Data = new ReadOnlySpan<byte>(start, (int)h->SnapLength + _vnetHeaderSize),
            WireLength = h->Length,
            PacketType = ll->PktType,
            IfIndex = ll->IfIndex,
            Status = h->Status,
            VlanTci = (ushort)h->VlanTci,
            VlanTpid = (h->Status & PacketAbi.TP_STATUS_VLAN_TPID_VALID) != 0 ? h->VlanTpid : (ushort)0x8100,
        };
        return true;
    }

    /// <summary>Hands a held block back early (e.g. before a long wait); frames read from it become invalid.</summary>
    public void ReleaseCurrent()
    {
        if (_current == null) return;
        // Release: all reads of the block happen before the kernel may overwrite it.
        Volatile.Write(ref _current->BlockStatus, PacketAbi.TP_STATUS_KERNEL);
        _current = null;
        _remaining = 0;
        _block = (_block + 1) % _blockCount;
    }

    /// <summary>TPACKET_ALIGN(sizeof(tpacket3_hdr)): where the sockaddr_ll follows the header.</summary>
    internal const int TpacketHeaderLength = 48;

    private TpacketBlockDesc* Block(int i) => (TpacketBlockDesc*)(_memory + (nint)i * _blockSize);

    public void Dispose()
    {
        Unmap();
        GC.SuppressFinalize(this);
    }

    ~PacketBlockRing() => Unmap();

    private void Unmap()
    {
        if (_memory == 0) return;
        Mmap.Unmap(_memory, _length);
        _memory = 0;
        _current = null;
    }
}
