// The daemon's life: restore the saved endpoints, serve the control socket until SIGTERM, then
// stop the datapath and remove the socket. The state is saved after every change, so a stop
// (clean or not) loses nothing. Meanwhile it follows the system: saved endpoints whose lower
// appears late are restored then, a deleted lower's endpoints go with it under --lower-gone
// delete, systemd's watchdog is fed while the datapath threads answer, and the endpoints are
// what --metrics exports. Macvtap endpoints with an owner get their owner's capture socket.
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Mvtap.Control;
using Mvtap.Daemon.Control;
using Mvtap.Daemon.Links;
using Mvtap.Daemon.Metrics;
using Mvtap.Daemon.State;
using Mvtap.Datapath;

namespace Mvtap.Daemon;

public sealed class MvtapdService(DaemonOptions options, StateStore store, DaemonState state, SocketAccess access,
    Func<string, Lowers.ILowerHost?> openPacketLower, DatapathSwitch linuxSwitch, MvtapMetrics metrics, ILogger<MvtapdService> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stop)
    {
        using var registry = new LinkRegistry(openPacketLower, store, log, options.RunDir);
        void Appeared(string name)
        {
            if (registry.WaitsForLower(name)) ThreadPool.QueueUserWorkItem(_ => registry.RetryRestore(name));
        }
        void Gone(LowerDatapath dp)
        {
            if (options.LowerGone != LowerGonePolicy.Delete) return;
            var port = dp.Port;
            string why = $"its lower {dp.Lower.Name} was deleted (--lower-gone delete)";
            ThreadPool.QueueUserWorkItem(_ => registry.RemoveEndpointsOf(port, why));
        }
        linuxSwitch.InterfaceAppeared += Appeared;
        linuxSwitch.LowerGone += Gone;
        metrics.Attach(registry);
        try
        {
            registry.Restore(state);
            // a lower that appeared while the restore ran, before anything waited for it
            foreach (var lower in registry.AwaitedLowers) registry.RetryRestore(lower);
            log.LogInformation("restored {Count} of {Saved} endpoints from {Path}", registry.Records.Count, state.Endpoints.Count, store.Path);
            using var watchdog = SystemdWatchdog.FromEnvironment(() => linuxSwitch.Lowers, log);
            using var server = new ControlServer(ControlPaths.SocketPath(options.RunDir), registry, access, log);
            // an endpoint's owner outside the socket group captures it on a socket of its own
            using var ownerCaptures = new Capture.OwnerCaptureSockets(registry, options.RunDir, server.Captures, log, stop);
            log.LogInformation("mvtapd listening on {Socket}", server.SocketPath);
            await server.RunAsync(stop).ConfigureAwait(false);
            log.LogInformation("mvtapd stopping");
        }
        finally
        {
            metrics.Attach(null);
            linuxSwitch.InterfaceAppeared -= Appeared;
            linuxSwitch.LowerGone -= Gone;
        }
    }
}
