// Serves `mvtapd --metrics` for as long as mvtapd runs: a hosted service of the daemon's host, so
// the listener (bound before the host started, see Program.cs) closes when mvtapd stops.
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Mvtap.Daemon.Metrics;

public sealed class MetricsService(MetricsHttpServer server, MvtapMetrics metrics, ILogger<MetricsService> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stop)
    {
        // BackgroundService runs this on the starting thread up to its first await
        await Task.Yield();
        using (server)
        {
            log.LogInformation("serving metrics on http://{Address}{Path}", MetricsAddress.Format(server.LocalEndPoint), MetricsHttpServer.Path);
            await server.ServeAsync(metrics.WriteAsync, stop).ConfigureAwait(false);
        }
        log.LogInformation("metrics listener closed");
    }
}
