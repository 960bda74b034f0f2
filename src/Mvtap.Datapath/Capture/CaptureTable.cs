// What one lower's datapath thread captures: every tap of every capture running on the lower,
// published whole by the control plane (a new table per change, through the thread's command
// queue) like the forwarding tables. The thread holds null while nothing is captured, so the cost
// of capturing nothing is one predictable branch per frame; with taps, a short walk of an array.
using Mvtap.Core.Model;

namespace Mvtap.Datapath.Capture;

public sealed class CaptureTable
{
    private readonly CaptureTap[] _taps;

    public CaptureTable(CaptureTap[] taps) => _taps = taps;

    public IReadOnlyList<CaptureTap> Taps => _taps;

    /// <summary>A frame the endpoint's user sent (outbound) or one delivered to it (inbound).</summary>
    public void AtEndpoint(Endpoint endpoint, ReadOnlySpan<byte> frame, CaptureDirection direction)
    {
        long ticks = 0;
        foreach (var tap in _taps)
        {
            if (tap.Endpoint != endpoint) continue;
            if (ticks == 0) ticks = DateTime.UtcNow.Ticks;
            tap.Offer(frame, direction, ticks);
        }
    }

    /// <summary>A frame read from the lower's wire (inbound) or sent to it (outbound).</summary>
    public void AtWire(ReadOnlySpan<byte> frame, CaptureDirection direction)
    {
        long ticks = 0;
        foreach (var tap in _taps)
        {
            if (tap.Endpoint is not null) continue;
            if (ticks == 0) ticks = DateTime.UtcNow.Ticks;
            tap.Offer(frame, direction, ticks);
        }
    }
}
