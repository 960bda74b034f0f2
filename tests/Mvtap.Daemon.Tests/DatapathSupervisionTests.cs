// A datapath thread that fails or hangs, as the daemon shows and reports it (in process: the
// registry, the control server and the CLI over a real lower in a namespace, the thread made to
// fail or hang through its test seam): a failed thread shows as restarting with its reason in
// `link show -d` (text and -j) until the supervisor has restarted it, then forwarding resumes;
// the systemd watchdog (a datagram socket as NOTIFY_SOCKET) is fed while the threads answer their
// heartbeats and not while one hangs; the unit's WatchdogSec outlasts the longest back-off.
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Mvtap.Cli;
using Mvtap.Cli.Demo;
using Mvtap.Control;
using Mvtap.Daemon.Control;
using Mvtap.Daemon.Links;
using Mvtap.Daemon.Lowers;
using Mvtap.Daemon.State;
using Mvtap.Datapath;

namespace Mvtap.Daemon.Tests;

public sealed class DatapathSupervisionTests
{
    private static (int Status, string Out, string Err) Cli(string runDir, params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int status = MvtapCli.Run(["--run-dir", runDir, .. args], o, e);
        return (status, o.ToString(), e.ToString());
    }

    private static JsonElement Datapath(string runDir)
    {
        var show = Cli(runDir, "-j", "-d", "link", "show", "g0");
        Assert.True(show.Status == 0, show.Err);
        return JsonDocument.Parse(show.Out).RootElement[0].Clone();
    }

    [Fact]
    public async Task A_failed_datapath_thread_shows_in_link_show_until_it_is_restarted_and_then_forwards_again()
    {
        Assert.True(TestHost.IsRoot, "needs root");
        using var lab = new LowerLab();
        using var sw = new DatapathSwitch(lab.Host, log: _ => { });
        using var registry = new LinkRegistry(name => PacketLowerHost.Open(sw, name), new StateStore(lab.StateDir), NullLogger.Instance, lab.RunDir);
        using var server = new ControlServer(ControlPaths.SocketPath(lab.RunDir), registry, new SocketAccess(null), NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var serving = server.RunAsync(stop.Token);
        try
        {
            var add = registry.Handle(new LinkAddRequest { Lower = "low0", Name = "g0", Type = "macvlan", Mode = "bridge", Netns = lab.Guest, Up = true });
            Assert.True(add.Ok, add.Error?.Message);
            Shell.Ip("-n", lab.Guest, "addr", "add", LowerLab.GuestIp + "/24", "dev", "g0");
            Shell.Ip("-n", lab.Guest, "link", "set", "g0", "up");
            Assert.True(lab.GuestReachesExt());
            var dp = sw.Lowers.Single();

            bool failing = true;
            dp.WakeupHook = () => { if (Volatile.Read(ref failing)) throw new InvalidOperationException("injected failure (test)"); };
            // each look also wakes the thread, so a restarted one fails again at once while armed
            var text = TestNet.WaitFor(() => { dp.CheckHeartbeat(); return Cli(lab.RunDir, "-d", "link", "show", "g0").Out; },
                o => o.Contains("datapath restarting"));
            Assert.Contains("datapath restarting", text);
            Assert.Contains("datapath reason: failed (InvalidOperationException: injected failure (test)); restarting in", text);
            Assert.Contains("NO-CARRIER", text);
            var json = TestNet.WaitFor(() => { dp.CheckHeartbeat(); return Datapath(lab.RunDir); },
                l => l.GetProperty("mvtap").GetProperty("datapath").GetProperty("state").GetString() == "restarting");
            var datapath = json.GetProperty("mvtap").GetProperty("datapath");
            Assert.Equal("restarting", datapath.GetProperty("state").GetString());
            Assert.Contains("injected failure (test)", datapath.GetProperty("reason").GetString());
            Assert.Equal("LOWERLAYERDOWN", json.GetProperty("operstate").GetString());

            Volatile.Write(ref failing, false);
            var after = TestNet.WaitFor(() => Datapath(lab.RunDir), l => l.GetProperty("mvtap").GetProperty("datapath").GetProperty("state").GetString() == "running");
            Assert.Equal("running", after.GetProperty("mvtap").GetProperty("datapath").GetProperty("state").GetString());
            Assert.True(after.GetProperty("mvtap").GetProperty("datapath").GetProperty("restarts").GetInt32() >= 1);
            Assert.Equal("UP", after.GetProperty("operstate").GetString());
            Assert.True(lab.GuestReachesExt(), "forwarding resumes after the restart");
            Assert.Contains("datapath reason: restarted after a failure (InvalidOperationException: injected failure (test))",
                Cli(lab.RunDir, "-d", "link", "show", "g0").Out);
        }
        finally
        {
            await stop.CancelAsync();
            await serving.WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    [Fact]
    public void The_watchdog_is_fed_while_the_datapath_threads_answer_and_not_while_one_hangs()
    {
        Assert.True(TestHost.IsRoot, "needs root");
        using var lab = new LowerLab();
        using var sw = new DatapathSwitch(lab.Host, log: _ => { });
        var dp = sw.OpenLower("low0");
        Directory.CreateDirectory(lab.RunDir);
        string path = Path.Combine(lab.RunDir, "notify.sock");
        using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        notify.Bind(new UnixDomainSocketEndPoint(path));
        notify.ReceiveTimeout = 10_000; // a bound on each wait, not a threshold: pings come every 200 ms
        var env = new Dictionary<string, string?> { ["NOTIFY_SOCKET"] = path, ["WATCHDOG_USEC"] = "400000" };
        using var watchdog = SystemdWatchdog.FromEnvironment(v => env.GetValueOrDefault(v), () => sw.Lowers, NullLogger.Instance)!;
        Assert.Equal(TimeSpan.FromMilliseconds(200), watchdog.Interval);
        Assert.Equal("WATCHDOG=1", Receive(notify));

        using var release = new ManualResetEventSlim();
        dp.WakeupHook = () => release.Wait(); // the next heartbeat wakes it into the hang
        Assert.True(TestNet.WaitFor(() => watchdog.Withheld, n => n >= 1) >= 1, "a hung thread stops the feeding");
        while (notify.Available > 0) Receive(notify); // what was sent before the hang
        long ticks = watchdog.Ticks;
        Assert.True(TestNet.WaitFor(() => watchdog.Ticks, t => t >= ticks + 3) >= ticks + 3);
        Assert.Equal(0, notify.Available);
        Assert.True(watchdog.Withheld >= 3);

        dp.WakeupHook = null;
        release.Set();
        Assert.Equal("WATCHDOG=1", Receive(notify)); // fed again once it answers
    }

    [Fact]
    public void The_watchdog_is_only_fed_when_systemd_asks_this_process_for_it()
    {
        var env = new Dictionary<string, string?> { ["NOTIFY_SOCKET"] = "/nonexistent/notify", ["WATCHDOG_USEC"] = "60000000" };
        SystemdWatchdog? Make() => SystemdWatchdog.FromEnvironment(v => env.GetValueOrDefault(v), () => [], NullLogger.Instance);
        using (var own = Make()) Assert.Equal(TimeSpan.FromSeconds(30), own!.Interval);
        env["WATCHDOG_PID"] = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        using (var own = Make()) Assert.NotNull(own);
        env["WATCHDOG_PID"] = "1";
        Assert.Null(Make());
        env.Remove("WATCHDOG_PID");
        env["WATCHDOG_USEC"] = "0";
        Assert.Null(Make());
        env["WATCHDOG_USEC"] = "60000000";
        env.Remove("NOTIFY_SOCKET");
        Assert.Null(Make());
    }

    [Fact]
    public void The_units_watchdog_outlasts_the_longest_restart_back_off()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Mvtap.slnx"))) dir = dir.Parent;
        Assert.NotNull(dir);
        var line = File.ReadAllLines(Path.Combine(dir.FullName, "dist", "systemd", "mvtapd.service")).Single(l => l.StartsWith("WatchdogSec=", StringComparison.Ordinal));
        var watchdog = TimeSpan.FromSeconds(int.Parse(line["WatchdogSec=".Length..], System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(watchdog > LowerDatapath.BackOff.Max(), $"{line} must outlast a back-off of {LowerDatapath.BackOff.Max()}");
    }

    private static string Receive(Socket socket)
    {
        var buffer = new byte[256];
        int n = socket.Receive(buffer);
        return Encoding.ASCII.GetString(buffer, 0, n);
    }
}
