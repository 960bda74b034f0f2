// `netns PID` (as ip takes it) from a client that is not root names only a process of that
// client's own uid: a member of the socket group cannot put an interface into the namespace of
// root's process. A PID is kept as the name of its namespace under /run/netns, which is what a
// restart finds again (the PID may by then be another process's). A name under /run/netns from
// such a client must be of a namespace its uid owns through a user namespace; a name that is
// nowhere is refused in ip's words.
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
        // `ip netns exec` and setpriv exec into sleep in the same process, once in the namespace
        return StartSleeper(psi).Id;
    }

    // Starts a command that ends by exec'ing sleep, and waits until it has.
    private Process StartSleeper(ProcessStartInfo psi)
    {
        var p = Process.Start(psi)!;
        _sleepers.Add(p);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (File.ReadAllText($"/proc/{p.Id}/comm").Trim() != "sleep")
        {
            Assert.True(DateTime.UtcNow < deadline, "the sleeper did not start");
            Thread.Sleep(20);
        }
        return p;
    }

    // A network namespace in a user namespace that nobody made (as a rootless container's is),
    // named under /run/netns by root with `ip netns attach`.
    private string NobodysNamespace()
    {
        var psi = new ProcessStartInfo("setpriv") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])[$"--reuid={NobodyCli.Id}", $"--regid={NobodyCli.Id}", "--clear-groups", "unshare", "--user", "--net", "sleep", "600"])
            psi.ArgumentList.Add(a);
        var p = StartSleeper(psi); // setpriv and unshare exec into sleep
        string name = $"{_prefix}-n";
        Shell.Ip("netns", "attach", name, $"{p.Id}");
        _namespaces.Adopt(name);
        return name;
    }

    [Fact]
    public void Netns_name_from_a_non_root_client_names_only_a_namespace_its_uid_owns()
    {
        string nobodys = NobodysNamespace();
        using var nobody = new NobodyCli();
        using var d = new MvtapdProcess(Path.Combine(_root, "run"), Path.Combine(_root, "state"), "--netns", Host, "--socket-group", $"{NobodyCli.Id}");
        d.StartAndWait();

        // root's namespace (ip netns add): refused, nothing left behind
        var (status, err) = nobody.Run(d.RunDir, "link", "add", "link", "low0", "name", "m0", "type", "macvlan", "netns", Guest);
        Assert.Equal(1, status);
        Assert.Contains("Operation not permitted", err);
        Assert.DoesNotContain("m0", d.Cli("link", "show").Out);
        Assert.DoesNotContain("m0", Shell.Run("ip", "-n", Guest, "-br", "link").Output);

        // its own (its uid made the user namespace that owns it)
        (status, err) = nobody.Run(d.RunDir, "link", "add", "link", "low0", "name", "m1", "type", "macvlan", "netns", nobodys);
        Assert.True(status == 0, err);
        Assert.Contains("m1", Shell.Run("ip", "-n", nobodys, "-br", "link").Output);

        // moving an endpoint is the same request
        (status, err) = nobody.Run(d.RunDir, "link", "add", "link", "low0", "name", "m2", "type", "macvlan");
        Assert.True(status == 0, err);
        (status, err) = nobody.Run(d.RunDir, "link", "set", "m2", "netns", Guest);
        Assert.Equal(1, status);
        Assert.Contains("Operation not permitted", err);
        Assert.DoesNotContain("link-netns", d.Cli("-d", "link", "show", "m2").Out);
        (status, err) = nobody.Run(d.RunDir, "link", "set", "m2", "netns", nobodys);
        Assert.True(status == 0, err);
        Assert.Contains("m2", Shell.Run("ip", "-n", nobodys, "-br", "link").Output);

        // root names any namespace
        var add = d.Cli("link", "add", "link", "low0", "name", "m3", "type", "macvlan", "netns", Guest);
        Assert.True(add.Status == 0, add.Err);
        Assert.Contains("m3", Shell.Run("ip", "-n", Guest, "-br", "link").Output);
    }

    [Fact]
    public void Netns_naming_no_namespace_is_refused_in_ips_words()
    {
        using var d = new MvtapdProcess(Path.Combine(_root, "run"), Path.Combine(_root, "state"), "--netns", Host);
        d.StartAndWait();
        string missing = $"{_prefix}-none";
        // ip link set dev X netns NAME: Error: argument "NAME" is wrong: Invalid "netns" value
        var add = d.Cli("link", "add", "link", "low0", "name", "x0", "type", "macvlan", "netns", missing);
        Assert.NotEqual(0, add.Status);
        Assert.Contains($"Error: argument \"{missing}\" is wrong: Invalid \"netns\" value", add.Err);
        Assert.DoesNotContain("internal error", add.Err);
        Assert.DoesNotContain("x0", d.Cli("link", "show").Out);

        Assert.Equal(0, d.Cli("link", "add", "link", "low0", "name", "x1", "type", "macvlan").Status);
        var set = d.Cli("link", "set", "x1", "netns", missing);
        Assert.NotEqual(0, set.Status);
        Assert.Contains($"Error: argument \"{missing}\" is wrong: Invalid \"netns\" value", set.Err);
        Assert.DoesNotContain("link-netns", d.Cli("-d", "link", "show", "x1").Out);

        // the errno a client sees (ENOENT: the name is not under /run/netns)
        var response = RawControl.Send(d.SocketPath, new Mvtap.Control.LinkAddRequest
        {
            Lower = "low0", Name = "x2", Type = "macvlan", Netns = missing,
        });
        Assert.False(response.Ok);
        Assert.Equal((int)Mvtap.Core.Model.Errno.ENOENT, response.Error!.Errno);
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
