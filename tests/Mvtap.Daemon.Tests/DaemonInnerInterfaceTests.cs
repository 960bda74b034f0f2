// mvtapd and what a container does to its macvlan NIC: `ip link set g0 down` and a new address
// inside the guest's namespace are changes of the endpoint (the kernel's macvlan device IS the
// endpoint), so `mvtap link show` reports them, state.json keeps them and a restarted daemon
// brings the endpoint back with them.
using System.Text.Json;
using Mvtap.Cli.Demo;

namespace Mvtap.Daemon.Tests;

public sealed class DaemonInnerInterfaceTests : IDisposable
{
    private const string NewMac = "1a:46:0b:ca:bc:42";
    private readonly string _prefix = $"mvi{Environment.ProcessId % 10000}{Random.Shared.Next(100):d2}";
    private readonly string _root = Directory.CreateTempSubdirectory("mvtapd-inner-").FullName;
    private readonly NamespaceSet _namespaces = new();

    private string Host => $"{_prefix}-h";
    private string Ext => $"{_prefix}-x";
    private string Guest => $"{_prefix}-g";

    public DaemonInnerInterfaceTests()
    {
        try
        {
            foreach (var ns in new[] { Host, Ext, Guest }) _namespaces.Add(ns);
            Shell.Ip("-n", Host, "link", "add", "low0", "type", "veth", "peer", "name", "ext0", "netns", Ext);
            Shell.Ip("-n", Host, "link", "set", "low0", "up");
            Shell.Ip("-n", Ext, "link", "set", "ext0", "up");
        }
        catch { Dispose(); throw; }
    }

    public void Dispose()
    {
        _namespaces.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private static (bool Up, string Address) Shown(MvtapdProcess d, string name = "g0")
    {
        var show = d.Cli("-j", "link", "show", name);
        Assert.True(show.Status == 0, show.Err);
        var link = JsonDocument.Parse(show.Out).RootElement[0];
        bool up = link.GetProperty("flags").EnumerateArray().Any(f => f.GetString() == "UP");
        return (up, link.GetProperty("address").GetString()!);
    }

    private static (bool Up, string Mac) Saved(MvtapdProcess d)
    {
        var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(d.StateDir, "state.json"))).RootElement;
        var ep = state.GetProperty("endpoints").EnumerateArray().Single(e => e.GetProperty("name").GetString() == "g0");
        return (ep.GetProperty("up").GetBoolean(), ep.GetProperty("mac").GetString()!);
    }

    [Fact]
    public void Down_and_a_new_address_set_inside_the_guest_are_shown_saved_and_restored()
    {
        Assert.True(TestHost.IsRoot, "needs root");
        using var d = new MvtapdProcess(Path.Combine(_root, "run"), Path.Combine(_root, "state"), "--netns", Host);
        d.StartAndWait();
        var add = d.Cli("link", "add", "link", "low0", "name", "g0", "type", "macvlan", "mode", "bridge", "address", "1a:46:0b:ca:bc:01", "netns", Guest, "up");
        Assert.True(add.Status == 0, add.Err);
        Assert.Equal((true, "1a:46:0b:ca:bc:01"), Shown(d));

        Shell.Ip("-n", Guest, "link", "set", "g0", "down");
        Shell.Ip("-n", Guest, "link", "set", "g0", "address", NewMac);
        Assert.Equal((false, NewMac), TestNet.WaitFor(() => Shown(d), s => s == (false, NewMac)));
        Assert.Equal((false, NewMac), TestNet.WaitFor(() => Saved(d), s => s == (false, NewMac)));

        d.Signal(15);
        d.WaitForExit();
        d.StartAndWait();
        Assert.Equal((false, NewMac), Shown(d));

        // and back up from inside: the restarted daemon follows the adopted interface too
        Shell.Ip("-n", Guest, "link", "set", "g0", "up");
        Assert.Equal((true, NewMac), TestNet.WaitFor(() => Shown(d), s => s == (true, NewMac)));
        Assert.Equal((true, NewMac), TestNet.WaitFor(() => Saved(d), s => s == (true, NewMac)));
    }

    [Fact]
    public void An_endpoint_added_without_up_is_down_inside_the_guest_too_until_the_guest_brings_it_up()
    {
        Assert.True(TestHost.IsRoot, "needs root");
        using var d = new MvtapdProcess(Path.Combine(_root, "run"), Path.Combine(_root, "state"), "--netns", Host);
        d.StartAndWait();
        var add = d.Cli("link", "add", "link", "low0", "name", "g1", "type", "macvlan", "address", "1a:46:0b:ca:bc:02", "netns", Guest);
        Assert.True(add.Status == 0, add.Err);
        // as a new kernel macvlan device: down, and its interface with it
        Assert.False(Shown(d, "g1").Up);
        var brief = Shell.Run("ip", "-n", Guest, "-br", "link", "show", "g1").Output;
        Assert.DoesNotContain("UP", brief[(brief.IndexOf('<') + 1)..brief.IndexOf('>')].Split(','));
        Shell.Ip("-n", Guest, "link", "set", "g1", "up");
        Assert.True(TestNet.WaitFor(() => Shown(d, "g1").Up, up => up), "the guest's up was not followed");
    }
}
