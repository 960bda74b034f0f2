// mvtap_datapath_frames_per_wakeup{lower}: each datapath thread's FramesPerWakeupHistogram as a
// Prometheus histogram with the same buckets. The thread keeps its own counts; at each scrape the
// wake-ups counted since the last one are handed to prometheus-net per bucket (Observe with the
// bucket's mean, so the bucket and the sum are exact). A lower whose datapath is new (closed and
// opened again) starts from zero; one gone is removed. Used by one scrape at a time.
using Mvtap.Datapath;
using Prometheus;

namespace Mvtap.Daemon.Metrics;

internal sealed class FramesPerWakeupSeries
{
    private readonly Histogram _family;
    private Dictionary<string, (FramesPerWakeupHistogram Source, long[] Counts, long[] Sums)> _last = [];
    private Dictionary<string, (FramesPerWakeupHistogram Source, long[] Counts, long[] Sums)> _now = [];

    public FramesPerWakeupSeries(IMetricFactory f) =>
        _family = f.CreateHistogram("mvtap_datapath_frames_per_wakeup", "Frames the lower's datapath thread read per wake-up.",
            ["lower"], new HistogramConfiguration { Buckets = [.. FramesPerWakeupHistogram.UpperBounds.Select(b => (double)b)] });

    public void Set(FramesPerWakeupHistogram source, string lower)
    {
        int n = source.Buckets;
        if (!_last.TryGetValue(lower, out var last) || !ReferenceEquals(last.Source, source))
        {
            _family.RemoveLabelled(lower);
            last = (source, new long[n], new long[n]);
        }
        var child = _family.WithLabels(lower);
        var counts = new long[n];
        var sums = new long[n];
        for (int i = 0; i < n; i++)
        {
            counts[i] = source.CountIn(i);
            sums[i] = source.SumIn(i);
            long added = counts[i] - last.Counts[i];
            if (added > 0) child.Observe((double)(sums[i] - last.Sums[i]) / added, added);
        }
        _now[lower] = (source, counts, sums);
    }

    /// <summary>Ends a scrape: removes the series of lowers not set in it.</summary>
    public void Sweep()
    {
        foreach (var lower in _last.Keys)
            if (!_now.ContainsKey(lower)) _family.RemoveLabelled(lower);
        (_last, _now) = (_now, _last);
        _now.Clear();
    }
}
