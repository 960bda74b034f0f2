// What `mvtapd --metrics` exports: its own prometheus-net registry (nothing else registers there),
// filled just before each scrape from the endpoints and lowers the link registry holds at that
// moment. Only the control plane's lock is taken, and only to list the endpoints; the counters
// themselves are read as the datapath left them, so the datapath neither waits nor allocates.
// Scrapes run one at a time.
using Mvtap.Daemon.Links;
using Mvtap.Daemon.Lowers;
using Mvtap.VhostUser.Net;
using Prometheus;

namespace Mvtap.Daemon.Metrics;

public sealed class MvtapMetrics
{
    private readonly CollectorRegistry _registry = Prometheus.Metrics.NewCustomRegistry();
    private readonly EndpointMetrics _endpoints;
    private readonly LowerMetrics _lowers;
    private readonly SemaphoreSlim _scrape = new(1);
    private volatile LinkRegistry? _links;

    public MvtapMetrics()
    {
        var factory = Prometheus.Metrics.WithCustomRegistry(_registry);
        _endpoints = new EndpointMetrics(factory);
        _lowers = new LowerMetrics(factory);
        _registry.AddBeforeCollectCallback(Update);
    }

    /// <summary>The endpoints to export from now on (null: none, as while mvtapd starts or stops).</summary>
    public void Attach(LinkRegistry? links) => _links = links;

    /// <summary>Writes one scrape in the Prometheus text format.</summary>
    public async Task WriteAsync(Stream stream, CancellationToken cancel)
    {
        await _scrape.WaitAsync(cancel).ConfigureAwait(false);
        try { await _registry.CollectAndExportAsTextAsync(stream, cancel).ConfigureAwait(false); }
        finally { _scrape.Release(); }
    }

    private void Update()
    {
        var found = new List<(EndpointRecord Record, VhostUserNetCounters? Vhost)>();
        _links?.Visit(record => found.Add((record, VhostCounters(record))));
        var lowers = new HashSet<ILowerHost>(ReferenceEqualityComparer.Instance);
        foreach (var (record, vhost) in found)
        {
            _endpoints.Set(record, vhost);
            if (lowers.Add(record.Lower)) _lowers.Set(record.Lower);
        }
        _endpoints.Sweep();
        _lowers.Sweep();
    }

    // under the registry's lock: a macvtap endpoint's attachment points change only under it
    private static VhostUserNetCounters? VhostCounters(EndpointRecord record) =>
        record.Lower is PacketLowerHost packet && packet.AttachmentPointsOf(record.Endpoint) is { } points
            ? points.Vhost.Backend.Counters : null;
}
