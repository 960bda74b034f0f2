// A TimeProvider the test moves by hand: one tick a millisecond.
namespace Mvtap.Core.Tests;

internal sealed class ManualClock : TimeProvider
{
    public long Ticks;
    public override long GetTimestamp() => Ticks;
    public override long TimestampFrequency => 1000;
}
