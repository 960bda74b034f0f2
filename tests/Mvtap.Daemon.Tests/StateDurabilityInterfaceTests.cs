// Durability with real interfaces: while state.json cannot be saved (a full tmpfs), a refused
// `link add` of a macvlan leaves no veth behind, a refused `link del` keeps the container's NIC,
// a refused move to another namespace leaves the NIC where it was. A change the container makes
// to its NIC has happened already: it is followed, the failure to save it is logged at error
// level, and the next save that succeeds carries it across a restart.
using System.Text.Json;
using Mvtap.Cli.Demo;

namespace Mvtap.Daemon.Tests;

public sealed class StateDurabilityInterfaceTests : IDisposable
{
    private const int SIGTERM = 15;
    private readonly string _prefix = $"mvd{Environment.ProcessId % 10000}{Random.Shared.Next(100):d2}";
    private readonly string _root = Directory.CreateTempSubdirectory("mvtapd-durable-if-").FullName;
    private readonly NamespaceSet _namespaces = new();

    private string Host => $"{_prefix}-h";
    private string Guest => $"{_prefix}-g";
    private string Other => $"{_prefix}-o";
    private string StateDir => Path.Combine(_root, "state");

    public StateDurabilityInterfaceTests()
    {
        try
        {
            foreach (var ns in new[] { Host, Guest, Other }) _namespaces.Add(ns);
            Shell.Ip("-n", Host, "link", "add", "low0", "type", "veth", "peer", "name", "ext0");
            Shell.Ip("-n", Host, "link", "set", "low0", "up");
            Shell.Ip("-n", Host, "link", "set", "ext0", "up");
        }
        catch { Dispose(); throw; }
    }

    public void Dispose()
    {
        _namespaces.Dispose();
        Shell.Run("umount", "-l", StateDir);
        Directory.Delete(_root, recursive: true);
    }

    private static string Links(string ns) =>
        string.Join(" ", Shell.Run("ip", "-n", ns, "-br", "link").Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ')[0]).Order());

    private static string Shown(MvtapdProcess d)
    {
        var (status, output, err) = d.Cli("-j", "-d", "link", "show");
        Assert.True(status == 0, err);
        return output;
    }

    private static bool ShownUp(MvtapdProcess d) =>
        JsonDocument.Parse(d.Cli("-j", "link", "show", "g0").Out).RootElement[0].GetProperty("flags").EnumerateArray().Any(f => f.GetString() == "UP");

    private static void Refused(MvtapdProcess d, string cause, params string[] args)
    {
        var (status, output, err) = d.Cli(args);
        Assert.True(status == 1, $"{string.Join(' ', args)} exited {status}: {output}{err}");
        Assert.Contains(cause, err);
    }

    [Fact]
    public void Refused_changes_leave_every_interface_where_it_was_and_a_nic_change_that_cannot_be_saved_is_logged()
    {
        using var mount = StateDirMount.SmallTmpfs(StateDir);
        using var d = new MvtapdProcess(Path.Combine(_root, "run"), StateDir, "--netns", Host);
        d.StartAndWait();
        var add = d.Cli("link", "add", "link", "low0", "name", "g0", "type", "macvlan", "mode", "bridge", "netns", Guest, "up");
        Assert.True(add.Status == 0, add.Err);
        var acknowledged = Shown(d);
        var (host, guest, other) = (Links(Host), Links(Guest), Links(Other));
        Assert.Contains("g0", guest);
        mount.Fill();

        const string full = "No space left on device";
        Refused(d, full, "link", "add", "link", "low0", "name", "g1", "type", "macvlan", "netns", Guest, "up");
        Refused(d, full, "link", "del", "g0");
        Refused(d, full, "link", "set", "g0", "netns", Other);
        Assert.Equal(acknowledged, Shown(d));
        Assert.Equal((host, guest, other), (Links(Host), Links(Guest), Links(Other)));

        // made inside the container: it happened, it is followed, and not being saved is an error in the log
        Shell.Ip("-n", Guest, "link", "set", "g0", "down");
        Assert.False(TestNet.WaitFor(() => ShownUp(d), up => !up));
        Assert.Contains("fail:", TestNet.WaitFor(() => d.Output.Split('\n').FirstOrDefault(l => l.Contains("cannot save a change of an endpoint made outside")) ?? "", l => l != ""));

        mount.Free();
        var set = d.Cli("link", "set", "g0", "mtu", "1400");
        Assert.True(set.Status == 0, set.Err);
        var saved = Shown(d);
        d.Signal(SIGTERM);
        Assert.Equal(0, d.WaitForExit());
        d.StartAndWait();
        Assert.Equal(saved, Shown(d));
        Assert.False(ShownUp(d));
        Assert.Contains("mtu 1400", Shell.Run("ip", "-n", Guest, "link", "show", "g0").Output);
    }
}
