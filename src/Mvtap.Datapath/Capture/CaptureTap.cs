// One captured interface of one capture on one lower: an endpoint (the frames its user sends,
// outbound, and those delivered to it, inbound) or the lower's wire (frames read from it,
// inbound, and sent to it, outbound), the directions asked for, the snaplen, and the ring its
// frames go to. Its counters are written by the lower's datapath thread only (plain longs, read
// by the capture session with Volatile): frames that matched, and those the full ring refused.
using Mvtap.Core.Model;

namespace Mvtap.Datapath.Capture;

public sealed class CaptureTap
{
    private long _seen, _dropped;

    /// <param name="endpoint">the captured endpoint; null for the lower's wire.</param>
    /// <param name="interfaceId">this interface's number in the capture (its pcapng interface id).</param>
    public CaptureTap(CaptureRing ring, Endpoint? endpoint, ushort interfaceId, bool inbound, bool outbound, int snaplen)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(snaplen, 1);
        Ring = ring;
        Endpoint = endpoint;
        InterfaceId = interfaceId;
        Inbound = inbound;
        Outbound = outbound;
        Snaplen = snaplen;
    }

    public CaptureRing Ring { get; }
    public Endpoint? Endpoint { get; }
    public ushort InterfaceId { get; }
    public bool Inbound { get; }
    public bool Outbound { get; }
    public int Snaplen { get; }

    /// <summary>Frames this tap matched (captured or dropped).</summary>
    public long Seen => Volatile.Read(ref _seen);

    /// <summary>Frames it matched that the ring had no room for (the reader fell behind).</summary>
    public long Dropped => Volatile.Read(ref _dropped);

    /// <summary>Datapath thread: copies the frame into the ring if this tap wants its direction.</summary>
    internal void Offer(ReadOnlySpan<byte> frame, CaptureDirection direction, long ticks)
    {
        if (direction == CaptureDirection.Inbound ? !Inbound : !Outbound) return;
        Volatile.Write(ref _seen, _seen + 1);
        if (!Ring.TryWrite(frame, Snaplen, InterfaceId, direction, ticks)) Volatile.Write(ref _dropped, _dropped + 1);
    }
}
