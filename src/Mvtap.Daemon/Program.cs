// mvtapd: the mvtap daemon. Options with System.CommandLine, the service with
// Microsoft.Extensions.Hosting (systemd-aware: Type=notify, journal-friendly logs); with --metrics
// a Prometheus endpoint, bound before the host starts so a bad address stops mvtapd at once.
using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Mvtap.Control;
using Mvtap.Daemon;
using Mvtap.Daemon.Control;
using Mvtap.Daemon.Lowers;
using Mvtap.Daemon.Metrics;
using Mvtap.Daemon.State;
using Mvtap.Datapath;

GuestMemoryFaults.EnsureCatchable(); // may restart the process, before anything else runs

var runDir = new Option<string?>("--run-dir") { Description = $"control socket and attachment points (default ${ControlPaths.RunDirEnvironmentVariable} or {ControlPaths.DefaultRunDir})" };
var stateDir = new Option<string>("--state-dir") { Description = "where state.json is kept", DefaultValueFactory = _ => DaemonOptions.DefaultStateDir };
var group = new Option<string?>("--socket-group") { Description = "group allowed to use the control socket (mode 0660)" };
var netns = new Option<string?>("--netns") { Description = "network namespace (a name under /run/netns) the lower devices live in; default: mvtapd's own" };
var lowerGone = new Option<string>("--lower-gone")
{
    Description = "when a lower device is deleted: keep its endpoints (no carrier; reopened when an interface of that name " +
        "appears, so a driver reload or a bond rebuild loses nothing) or delete them, as the kernel deletes a lower's macvlans",
    DefaultValueFactory = _ => "keep",
};
lowerGone.AcceptOnlyFromAmong("keep", "delete");
var metrics = new Option<string?>("--metrics")
{
    Description = $"serve Prometheus metrics on http://ADDRESS:PORT/metrics (e.g. {MetricsAddress.Example}; off by default). " +
        "Anyone who can reach it sees the endpoints' names and counters: bind to localhost unless told otherwise",
    HelpName = "ADDRESS:PORT",
};
var root = new RootCommand("mvtapd: macvtap/macvlan endpoints in userspace") { runDir, stateDir, group, netns, lowerGone, metrics };
root.SetAction(parsed =>
{
    System.Net.IPEndPoint? metricsAt = null;
    if (parsed.GetValue(metrics) is { } metricsText && (metricsAt = MetricsAddress.Parse(metricsText, out var metricsError)) is null)
    {
        Console.Error.WriteLine($"mvtapd: {metricsError}");
        return 1;
    }
    var options = new DaemonOptions
    {
        RunDir = ControlPaths.ResolveRunDir(parsed.GetValue(runDir)),
        StateDir = parsed.GetValue(stateDir)!,
        SocketGroup = parsed.GetValue(group),
        Netns = parsed.GetValue(netns),
        LowerGone = parsed.GetValue(lowerGone) == "delete" ? LowerGonePolicy.Delete : LowerGonePolicy.Keep,
        Metrics = metricsAt,
    };
    return Mvtapd.Run(options);
});
return root.Parse(args).Invoke();

internal static class Mvtapd
{
    public static int Run(DaemonOptions options)
    {
        var store = new StateStore(options.StateDir);
        DaemonState state;
        SocketAccess access;
        MetricsHttpServer? metricsServer;
        try
        {
            state = store.Load();
            access = new SocketAccess(options.SocketGroup);
            // bound now: a port in use or an address not of this host is refused before anything starts
            metricsServer = options.Metrics is { } at ? MetricsHttpServer.Bind(at) : null;
        }
        catch (Exception e) when (e is StateFileException or ArgumentException or MetricsListenException)
        {
            Console.Error.WriteLine($"mvtapd: {e.Message}");
            return 1;
        }
        using var _ = metricsServer;

        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSystemd();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(store);
        builder.Services.AddSingleton(state);
        builder.Services.AddSingleton(access);
        // the switch logs through the host's logging (its datapath faults at error level, to the journal)
        builder.Services.AddSingleton(sp => new DatapathSwitch(options.Netns, keepInterfaces: true, logger: sp.GetRequiredService<ILogger<DatapathSwitch>>())
        {
            LowerGonePolicy = options.LowerGone,
        });
        builder.Services.AddSingleton<Func<string, ILowerHost?>>(sp =>
        {
            var linuxSwitch = sp.GetRequiredService<DatapathSwitch>();
            return name => PacketLowerHost.Open(linuxSwitch, name);
        });
        builder.Services.AddSingleton<MvtapMetrics>();
        if (metricsServer is not null)
        {
            builder.Services.AddSingleton(metricsServer);
            builder.Services.AddHostedService<MetricsService>();
        }
        builder.Services.AddHostedService<MvtapdService>();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));
        using var host = builder.Build();
        host.Run();
        return 0;
    }
}
