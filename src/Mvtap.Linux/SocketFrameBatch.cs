// A preallocated batch of frame slots in native memory with the iovec and mmsghdr arrays that
// point at them, built once so sendmmsg/recvmmsg (and TAP read/write loops) move a batch
// without allocating per frame. Not thread-safe: one batch per datapath thread and direction.
using System.Runtime.InteropServices;
using Mvtap.Linux.Interop;

namespace Mvtap.Linux;

public sealed unsafe class SocketFrameBatch : IDisposable
{
    private byte* _slots;
    private IoVec* _iovecs;
    private MMsgHdr* _messages;
    private SockaddrLl* _addresses;
    private readonly int[] _lengths;

    /// <param name="capacity">frames per batch (64 is a good start).</param>
    /// <param name="slotSize">bytes per frame, including a virtio-net header if one is used (65536+10 for GSO).</param>
    public SocketFrameBatch(int capacity, int slotSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(slotSize, 64);
        Capacity = capacity;
        SlotSize = slotSize;
        _lengths = new int[capacity];
        _slots = (byte*)NativeMemory.AlignedAlloc((nuint)capacity * (nuint)slotSize, 64);
        _iovecs = (IoVec*)NativeMemory.AllocZeroed((nuint)capacity, (nuint)sizeof(IoVec));
        _messages = (MMsgHdr*)NativeMemory.AllocZeroed((nuint)capacity, (nuint)sizeof(MMsgHdr));
        _addresses = (SockaddrLl*)NativeMemory.AllocZeroed((nuint)capacity, (nuint)sizeof(SockaddrLl));
        for (int i = 0; i < capacity; i++)
        {
            _iovecs[i].Base = (nint)(_slots + (long)i * slotSize);
            _messages[i].Header.Iov = (nint)(_iovecs + i);
            _messages[i].Header.IovLength = 1;
        }
    }

    public int Capacity { get; }
    public int SlotSize { get; }
    /// <summary>Frames currently in the batch (filled by a receive, or by <see cref="TryAdd"/>/<see cref="Commit"/>).</summary>
    public int Count { get; set; }

    /// <summary>The whole writable slot <paramref name="i"/>.</summary>
    public Span<byte> Slot(int i) => new(Pointer(i), SlotSize);

    /// <summary>Frame <paramref name="i"/>: its slot cut to its length.</summary>
    public Span<byte> Frame(int i) => new(Pointer(i), _lengths[CheckIndex(i)]);

    public int Length(int i) => _lengths[CheckIndex(i)];

    public void SetLength(int i, int length)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)length, (uint)SlotSize);
        _lengths[CheckIndex(i)] = length;
    }

    /// <summary>The next free slot, to be filled in place and then <see cref="Commit"/>ted.</summary>
    public Span<byte> Reserve() => Count < Capacity ? Slot(Count) : Span<byte>.Empty;

    public void Commit(int length) { SetLength(Count, length); Count++; }

    /// <summary>Copies <paramref name="frame"/> into the next slot; false when full or too big.</summary>
    public bool TryAdd(ReadOnlySpan<byte> frame)
    {
        if (Count >= Capacity || frame.Length > SlotSize) return false;
        frame.CopyTo(Slot(Count));
        Commit(frame.Length);
        return true;
    }

    public void Clear() => Count = 0;

    /// <summary>After a receive: the sockaddr_ll packet type (PACKET_HOST, PACKET_OUTGOING...).</summary>
    public byte PacketType(int i) => _addresses[CheckIndex(i)].PktType;

    /// <summary>After a receive: the interface the frame arrived on.</summary>
    public int IfIndex(int i) => _addresses[CheckIndex(i)].IfIndex;

    /// <summary>After a receive: the frame was longer than the slot and was cut (MSG_TRUNC).</summary>
    public bool Truncated(int i) => (_messages[CheckIndex(i)].Header.Flags & Sockets.MSG_TRUNC) != 0;

    public MMsgHdr* PrepareSend(int start, int count)
    {
        for (int i = start; i < start + count; i++)
        {
            _iovecs[i].Length = (nuint)_lengths[i];
            _messages[i].Header.Name = 0;
            _messages[i].Header.NameLength = 0;
            _messages[i].Header.Control = 0;
            _messages[i].Header.ControlLength = 0;
        }
        return _messages + start;
    }

    internal MMsgHdr* PrepareReceive()
    {
        for (int i = 0; i < Capacity; i++)
        {
            _iovecs[i].Length = (nuint)SlotSize;
            _messages[i].Header.Name = (nint)(_addresses + i);
            _messages[i].Header.NameLength = (uint)sizeof(SockaddrLl);
            _messages[i].Header.Control = 0;
            _messages[i].Header.ControlLength = 0;
            _messages[i].Header.Flags = 0;
        }
        return _messages;
    }

    internal void CompleteReceive(int received)
    {
        for (int i = 0; i < received; i++) _lengths[i] = (int)Math.Min(_messages[i].Length, (uint)SlotSize);
        Count = received;
    }

    public byte* Pointer(int i) => _slots + (long)CheckIndex(i) * SlotSize;

    private int CheckIndex(int i)
    {
        ObjectDisposedException.ThrowIf(_slots == null, this);
        if ((uint)i >= (uint)Capacity) throw new ArgumentOutOfRangeException(nameof(i));
        return i;
    }

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    ~SocketFrameBatch() => Free();

    private void Free()
    {
        if (_slots == null) return;
        NativeMemory.AlignedFree(_slots);
        NativeMemory.Free(_iovecs);
        NativeMemory.Free(_messages);
        NativeMemory.Free(_addresses);
        _slots = null;
        _iovecs = null;
        _messages = null;
        _addresses = null;
    }
}
