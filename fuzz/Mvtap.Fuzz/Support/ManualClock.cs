// A clock the fuzz targets move by hand, so timeouts (reassembly's 30 s) are reached by the
// input, not by the wall clock, and a run is the same every time.
namespace Mvtap.Fuzz.Support;

public sealed class ManualClock : TimeProvider
{
    private long _ticks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;
    public override long GetTimestamp() => _ticks;
    public void Advance(TimeSpan by) => _ticks += by.Ticks;
}
