// Where the fuzz targets let GsoSegmenter write: one reusable buffer (the segment is checked
// when it is committed, then overwritten by the next), a cap on how many segments it takes
// (to reach the "sink full" path) and the checks every segment must pass: no longer than the
// space reserved for it, an IP packet that fits its 16-bit length field, a header the
// receiver can take.
using Mvtap.Core.Frames;

namespace Mvtap.Fuzz.Support;

public sealed class SegmentChecks
{
    /// <summary>The largest segment: a 64 KB IP packet behind Ethernet and two VLAN tags.</summary>
    public const int MaxSegment = 65535 + 14 + 8;

    public readonly byte[] Buffer = new byte[MaxSegment];
    public int Limit;
    public int Committed;
    public int Reserved = -1;
    public long PayloadBytes;

    public void Reset(int limit)
    {
        Limit = limit;
        Committed = 0;
        Reserved = -1;
        PayloadBytes = 0;
    }
}

public readonly struct CheckingSegmentSink(SegmentChecks checks) : ISegmentSink
{
    public Span<byte> Reserve(int length)
    {
        if (length <= 0) throw new InvalidOperationException($"segmenter reserved {length} bytes");
        if (checks.Committed >= checks.Limit || length > SegmentChecks.MaxSegment) return default;
        checks.Reserved = length;
        return checks.Buffer.AsSpan(0, length);
    }

    public void Commit(int length, in VirtioNetHeader header)
    {
        if (checks.Reserved < 0) throw new InvalidOperationException("segment committed without a reservation");
        if (length > checks.Reserved) throw new InvalidOperationException($"segment of {length} bytes committed into {checks.Reserved} reserved");
        if (header.IsGso) throw new InvalidOperationException("a segment still carries a GSO type");
        if (header.NeedsCsum && header.CsumStart + header.CsumOffset + 2 > length)
            throw new InvalidOperationException($"segment checksum field {header.CsumStart}+{header.CsumOffset} beyond its {length} bytes");
        checks.Reserved = -1;
        checks.Committed++;
        checks.PayloadBytes += length;
    }
}
