// One metric family whose series follow what exists at each scrape: a series set in this scrape
// stays, one not set again (a deleted endpoint, a lower closed, an endpoint whose mode changed) is
// removed, so nothing stale is exported. A series whose source is a different object than last
// time (an endpoint deleted and made again under its name), or a counter whose source went back
// (a datapath's counters begun anew), starts again from the new value. Used by one scrape at a time.
using Prometheus;

namespace Mvtap.Daemon.Metrics;

internal sealed class TrackedSeries<TChild>(Collector<TChild> family, Action<TChild, double> set, Func<TChild, double> get, bool monotonic)
    where TChild : ChildBase
{
    private Dictionary<string, (object Source, string[] Labels)> _last = [];
    private Dictionary<string, (object Source, string[] Labels)> _now = [];

    public void Set(object source, double value, params string[] labels)
    {
        string key = string.Join('\0', labels);
        bool fresh = _last.TryGetValue(key, out var previous) && !ReferenceEquals(previous.Source, source);
        var child = family.WithLabels(labels);
        if (fresh || (monotonic && value < get(child)))
        {
            family.RemoveLabelled(labels);
            child = family.WithLabels(labels);
        }
        set(child, value);
        _now[key] = (source, labels);
    }

    /// <summary>Ends a scrape: removes the series not set in it.</summary>
    public void Sweep()
    {
        foreach (var (key, entry) in _last)
            if (!_now.ContainsKey(key)) family.RemoveLabelled(entry.Labels);
        (_last, _now) = (_now, _last);
        _now.Clear();
    }
}

internal static class TrackedSeries
{
    public static TrackedSeries<Counter.Child> Of(Counter counter) => new(counter, (c, v) => c.IncTo(v), c => c.Value, monotonic: true);
    public static TrackedSeries<Gauge.Child> Of(Gauge gauge) => new(gauge, (g, v) => g.Set(v), g => g.Value, monotonic: false);
}
