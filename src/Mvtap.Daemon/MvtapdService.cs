// The daemon's life: restore the saved endpoints, serve the control socket until SIGTERM, then
// stop the datapath and remove the socket. The state is saved after every change, so a stop
// (clean or not) loses nothing.
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Mvtap.Control;
using Mvtap.Daemon.Control;
using Mvtap.Daemon.Links;
using Mvtap.Daemon.State;

namespace Mvtap.Daemon;

public sealed class MvtapdService(DaemonOptions options, StateStore store, DaemonState state, SocketAccess access,
    Func<string, Lowers.ILowerHost?> openPacketLower, ILogger<MvtapdService> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stop)
    {
        using var registry = new LinkRegistry(openPacketLower, store, log, options.RunDir);
        registry.Restore(state);
        log.LogInformation("restored {Count} of {Saved} endpoints from {Path}", registry.Records.Count, state.Endpoints.Count, store.Path);
        using var server = new ControlServer(ControlPaths.SocketPath(options.RunDir), registry, access, log);
        log.LogInformation("mvtapd listening on {Socket}", server.SocketPath);
        await server.RunAsync(stop).ConfigureAwait(false);
        log.LogInformation("mvtapd stopping");
    }
}
