// The bounded ring between one lower's datapath thread (the only producer) and the control
// plane's capture session (the only consumer): captured frames as records in one buffer
// preallocated when the capture starts. The producer never waits: a record that does not fit is
// refused (the caller counts the drop), so a reader that falls behind loses captured frames and
// never slows forwarding. Positions only grow; each side publishes its own with a volatile write
// after the bytes it covers, so neither side takes a lock or makes a system call.
//
// Record (8-byte aligned): int32 total length, int32 captured length, int32 original length,
// uint16 interface, byte direction, byte 0, int64 time (UTC ticks), then the captured bytes.
// A total length of -1 says "the rest of the buffer is unused, go on at its start".
using System.Buffers.Binary;

namespace Mvtap.Datapath.Capture;

/// <summary>A captured frame's direction as seen by the captured interface (pcapng epb_flags bits 0-1).</summary>
public enum CaptureDirection : byte { Inbound = 1, Outbound = 2 }

public sealed class CaptureRing
{
    public const int HeaderSize = 24;
    private const int Wrap = -1;
    private readonly byte[] _buffer;
    private readonly int _mask;
    private long _head; // producer's: bytes written
    private long _tail; // consumer's: bytes read

    /// <param name="capacity">bytes; a power of two, at least a record of the largest snaplen.</param>
    public CaptureRing(int capacity)
    {
        if (capacity < 4096 || (capacity & (capacity - 1)) != 0) throw new ArgumentOutOfRangeException(nameof(capacity), "a power of two of at least 4096");
        _buffer = GC.AllocateUninitializedArray<byte>(capacity, pinned: false);
        _mask = capacity - 1;
    }

    public int Capacity => _buffer.Length;

    /// <summary>The largest captured length a record may carry in this ring.</summary>
    public int MaxCaptured => _buffer.Length / 2 - HeaderSize;

    private static int Align(int n) => (n + 7) & ~7;

    /// <summary>Producer: copies at most <paramref name="snaplen"/> bytes of <paramref name="frame"/>;
    /// false (nothing written) when the reader has not made room.</summary>
    public bool TryWrite(ReadOnlySpan<byte> frame, int snaplen, ushort iface, CaptureDirection direction, long ticks)
    {
        int captured = Math.Min(Math.Min(frame.Length, snaplen), MaxCaptured);
        int total = Align(HeaderSize + captured);
        long head = _head;
        long free = _buffer.Length - (head - Volatile.Read(ref _tail));
        int at = (int)(head & _mask);
        int toEnd = _buffer.Length - at;
        int need = total <= toEnd ? total : toEnd + total;
        if (need > free) return false;
        if (total > toEnd)
        {
            BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(at), Wrap);
            head += toEnd;
            at = 0;
        }
        var record = _buffer.AsSpan(at, total);
        BinaryPrimitives.WriteInt32LittleEndian(record, total);
        BinaryPrimitives.WriteInt32LittleEndian(record[4..], captured);
        BinaryPrimitives.WriteInt32LittleEndian(record[8..], frame.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(record[12..], iface);
        record[14] = (byte)direction;
        record[15] = 0;
        BinaryPrimitives.WriteInt64LittleEndian(record[16..], ticks);
        frame[..captured].CopyTo(record[HeaderSize..]);
        Volatile.Write(ref _head, head + total);
        return true;
    }

    /// <summary>Consumer: the oldest record, if any; <see cref="Release"/> it once its bytes are used.</summary>
    public bool TryPeek(out CapturedFrame frame)
    {
        frame = default;
        long head = Volatile.Read(ref _head);
        long tail = _tail;
        if (tail == head) return false;
        int at = (int)(tail & _mask);
        int total = BinaryPrimitives.ReadInt32LittleEndian(_buffer.AsSpan(at));
        if (total == Wrap)
        {
            tail += _buffer.Length - at;
            Volatile.Write(ref _tail, tail);
            if (tail == head) return false;
            at = 0;
            total = BinaryPrimitives.ReadInt32LittleEndian(_buffer);
        }
        var record = _buffer.AsSpan(at, total);
        frame = new CapturedFrame(
            at, total,
            BinaryPrimitives.ReadInt32LittleEndian(record[4..]),
            BinaryPrimitives.ReadInt32LittleEndian(record[8..]),
            BinaryPrimitives.ReadUInt16LittleEndian(record[12..]),
            (CaptureDirection)record[14],
            BinaryPrimitives.ReadInt64LittleEndian(record[16..]));
        return true;
    }

    /// <summary>Consumer: the captured bytes of a record <see cref="TryPeek"/> returned.</summary>
    public ReadOnlySpan<byte> Bytes(in CapturedFrame frame) => _buffer.AsSpan(frame.Offset + HeaderSize, frame.Captured);

    /// <summary>Consumer: hands the record's room back to the producer.</summary>
    public void Release(in CapturedFrame frame) => Volatile.Write(ref _tail, _tail + frame.Total);
}

/// <summary>One record of a <see cref="CaptureRing"/>, as the consumer sees it.</summary>
public readonly record struct CapturedFrame(int Offset, int Total, int Captured, int Original, ushort Interface,
    CaptureDirection Direction, long Ticks);
