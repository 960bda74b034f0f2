// How many frames a datapath thread read per wake-up, as a histogram with fixed buckets (0, 1, 2,
// 4 ... 512 and more): how well the thread batches. Counted by the datapath thread into plain longs
// (a count and a sum of frames per bucket, so the total is exact), read by the metrics at scrape
// time with Volatile; no lock, no allocation.
namespace Mvtap.Datapath;

public sealed class FramesPerWakeupHistogram
{
    /// <summary>The buckets' upper bounds (inclusive); one more bucket holds everything above the last.</summary>
    public static readonly long[] UpperBounds = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

    private readonly long[] _counts = new long[UpperBounds.Length + 1];
    private readonly long[] _sums = new long[UpperBounds.Length + 1];

    /// <summary>Buckets, the one above the last bound included.</summary>
    public int Buckets => _counts.Length;

    /// <summary>The bucket of a wake-up that read <paramref name="frames"/> frames.</summary>
    public static int Bucket(long frames)
    {
        if (frames <= 0) return 0;
        int i = 1 + (64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)(frames - 1)));
        return Math.Min(i, UpperBounds.Length);
    }

    /// <summary>Datapath thread: one wake-up that read <paramref name="frames"/> frames.</summary>
    internal void Count(long frames)
    {
        int i = Bucket(frames);
        Volatile.Write(ref _counts[i], _counts[i] + 1);
        Volatile.Write(ref _sums[i], _sums[i] + frames);
    }

    /// <summary>Wake-ups counted in bucket <paramref name="bucket"/> (not cumulative).</summary>
    public long CountIn(int bucket) => Volatile.Read(ref _counts[bucket]);

    /// <summary>Frames read in the wake-ups of bucket <paramref name="bucket"/>.</summary>
    public long SumIn(int bucket) => Volatile.Read(ref _sums[bucket]);
}
