// `netns PID` (as ip takes it) from a client that is not root names only a process of that
// client's own uid: a member of the socket group cannot put an interface into the namespace of
// root's process. A PID is kept as the name of its namespace under /run/netns, which is what a
// restart finds again (the PID may by then be another process's).
using System.Diagnostics;
using Mvtap.Cli.Demo;

namespace Mvtap.Daemon.Tests;

public sealed class NetnsPermissionTests : IDisposable
{
    private readonly string _prefix = $"mvp{Environment.ProcessId % 10000}{Random.Shared.Next(100):d2}";
    private readonly string _root = Directory.CreateTempSubdirectory("mvtapd-netns-").FullName;
    private readonly NamespaceSet _namespaces = new();
    private readonly List<Process> _sleepers = [];

    private string Host => $"{_prefix}-h";
    private string Guest => $"{_prefix}-g";

    public NetnsPermissionTests()
    {
        File.SetUnixFileMode(_root, (UnixFileMode)0b111_101_101); // nobody reaches the socket below it
        try
        {
            foreach (var ns in new[] { Host, Guest }) _namespaces.Add(ns);
            Shell.Ip("-n", Host, "link", "add", "low0", "type", "veth", "peer", "name", "ext0");
            Shell.Ip("-n", Host, "link", "set", "low0", "up");
        }
        catch { Dispose(); throw; }
    }

    public void Dispose()
    {
        foreach (var p in _sleepers)
        {
            try { p.Kill(); p.WaitForExit(10_000); } catch (InvalidOperationException) { /* gone already */ }
            p.Dispose();
        }
        _namespaces.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    // A process inside the guest's namespace, as root or as nobody; its PID once it is in there.
    private int SleeperInGuest(bool asNobody)
    {
        var psi = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        string[] command = asNobody ? ["setpriv", $"--reuid={NobodyCli.Id}", $"--regid={NobodyCli.Id}", "--clear-groups", "sleep", "600"] : ["sleep", "600"];
        foreach (var a in (string[])["netns", "exec", Guest, .. command]) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        _sleepers.Add(p);
        // `ip netns exec` and setpriv exec into sleep in the same process, once in the namespace
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (File.ReadAllText($"/proc/{p.Id}/comm").Trim() != "sleep")
        {
            Assert.True(DateTime.UtcNow < deadline, "the sleeper did not start");
            Thread.Sleep(20);
        }
        return p.Id;
    }

    [Fact]
    public void Netns_pid_from_a_non_root_client_names_only_its_own_processes()
    {
        int rootsPid = SleeperInGuest(asNobody: false);
        int nobodysPid = SleeperInGuest(asNobody: true);
        using var nobody = new NobodyCli();
        using var d = new MvtapdProcess(Path.Combine(_root, "run"), Path.Combine(_root, "state"), "--netns", Host, "--socket-group", $"{NobodyCli.Id}");
        d.StartAndWait();

        var (status, err) = nobody.Run(d.RunDir, "link", "add", "link", "low0", "name", "n0", "type", "macvlan", "netns", $"{rootsPid}");
        Assert.Equal(1, status);
        Assert.Contains("Operation not permitted", err);
        Assert.DoesNotContain("n0", d.Cli("link", "show").Out);
        Assert.DoesNotContain("n0", Shell.Run("ip", "-n", Guest, "-br", "link").Output);

        (status, err) = nobody.Run(d.RunDir, "link", "add", "link", "low0", "name", "n1", "type", "macvlan", "netns", $"{nobodysPid}");
        Assert.True(status == 0, err);
        Assert.Contains("n1", Shell.Run("ip", "-n", Guest, "-br", "link").Output);
        Assert.Contains($"link-netns {Guest}", d.Cli("-d", "link", "show", "n1").Out);

        // moving an endpoint there is the same request
        (status, err) = nobody.Run(d.RunDir, "link", "add", "link", "low0", "name", "n2", "type", "macvlan");
        Assert.True(status == 0, err);
        (status, err) = nobody.Run(d.RunDir, "link", "set", "n2", "netns", $"{rootsPid}");
        Assert.Equal(1, status);
        Assert.Contains("Operation not permitted", err);
        Assert.DoesNotContain("link-netns", d.Cli("-d", "link", "show", "n2").Out);

        // root may name any process
        var add = d.Cli("link", "add", "link", "low0", "name", "n3", "type", "macvlan", "netns", $"{rootsPid}");
        Assert.True(add.Status == 0, add.Err);
        Assert.Contains("n3", Shell.Run("ip", "-n", Guest, "-br", "link").Output);
    }
}
