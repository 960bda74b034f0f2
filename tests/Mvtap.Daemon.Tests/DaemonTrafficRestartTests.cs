// mvtapd on a real lower with a container-style guest passing traffic: after SIGTERM and after
// SIGKILL the daemon comes back with the same endpoint, takes over the guest's interface as
// the guest configured it, and the guest's pings flow again.
using Mvtap.Cli.Demo;

namespace Mvtap.Daemon.Tests;

public sealed class DaemonTrafficRestartTests : IDisposable
{
    private const int SIGTERM = 15, SIGKILL = 9;
    private readonly string _prefix = $"mvr{Environment.ProcessId % 10000}{Random.Shared.Next(100):d2}";
    private readonly string _root = Directory.CreateTempSubdirectory("mvtapd-traffic-").FullName;
    private readonly NamespaceSet _namespaces = new();

    private string Host => $"{_prefix}-h";
    private string Ext => $"{_prefix}-x";
    private string Guest => $"{_prefix}-g";

    public DaemonTrafficRestartTests()
    {
        try
        {
            foreach (var ns in new[] { Host, Ext, Guest }) _namespaces.Add(ns);
            Shell.Ip("-n", Host, "link", "add", "low0", "type", "veth", "peer", "name", "ext0", "netns", Ext);
            Shell.Ip("-n", Host, "link", "set", "low0", "up");
            Shell.Ip("-n", Ext, "addr", "add", "10.80.0.1/24", "dev", "ext0");
            Shell.Ip("-n", Ext, "link", "set", "ext0", "up");
        }
        catch { Dispose(); throw; }
    }

    public void Dispose()
    {
        _namespaces.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private bool GuestReachesExt()
    {
        // a few tries: the first ping after a restart may wait for ARP
        for (int i = 0; i < 5; i++) if (Shell.Ping(Guest, "10.80.0.1")) return true;
        return false;
    }

    [Fact]
    public void Traffic_resumes_after_sigterm_and_sigkill_with_the_guests_configuration_kept()
    {
        Assert.True(TestHost.IsRoot, "needs root");
        using var d = new MvtapdProcess(Path.Combine(_root, "run"), Path.Combine(_root, "state"), "--netns", Host);
        d.StartAndWait();
        var add = d.Cli("link", "add", "link", "low0", "name", "g0", "type", "macvlan", "mode", "bridge", "address", "1a:46:0b:ca:bc:01", "netns", Guest);
        Assert.True(add.Status == 0, add.Err);
        Assert.Equal(0, d.Cli("link", "set", "g0", "up").Status);
        Shell.Ip("-n", Guest, "addr", "add", "10.80.0.2/24", "dev", "g0");
        Shell.Ip("-n", Guest, "link", "set", "g0", "up");
        Assert.True(GuestReachesExt(), "before any restart");
        var before = d.Cli("-j", "link", "show").Out;

        foreach (var signal in new[] { SIGTERM, SIGKILL })
        {
            d.Signal(signal);
            d.WaitForExit();
            Assert.False(Shell.Ping(Guest, "10.80.0.1"), "no forwarding while mvtapd is down");
            d.StartAndWait();
            Assert.Equal(before, d.Cli("-j", "link", "show").Out); // same name, index, MAC, mode, state
            Assert.True(GuestReachesExt(), $"after {(signal == SIGTERM ? "SIGTERM" : "SIGKILL")}");
        }
    }
}
