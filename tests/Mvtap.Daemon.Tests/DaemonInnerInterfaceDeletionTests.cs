// mvtapd and a container that deletes its macvlan NIC, or moves it on: as with the kernel's macvlan
// (whose device IS the endpoint), a NIC deleted inside the container (or gone with its namespace)
// deletes the endpoint: gone from `link show`, its MAC free, state.json without it, not made again by
// a restart. A NIC only moved on to another namespace is followed there (a join there takes effect).
using System.Text.Json;
using Mvtap.Cli.Demo;
using Mvtap.Linux;

namespace Mvtap.Daemon.Tests;

public sealed class DaemonInnerInterfaceDeletionTests : IDisposable
{
    private const string Mac = "1a:46:0b:ca:bd:01";
    private readonly string _prefix = $"mvd{TestNet.Suffix()}";
    private readonly string _root = Directory.CreateTempSubdirectory("mvtapd-innerdel-").FullName;
    private readonly NamespaceSet _namespaces = new();

    private string Host => $"{_prefix}-h";
    private string Ext => $"{_prefix}-x";
    private string Guest => $"{_prefix}-g";
    private string Guest2 => $"{_prefix}-g2";

    public DaemonInnerInterfaceDeletionTests()
    {
        try
        {
            foreach (var ns in new[] { Host, Ext, Guest, Guest2 }) _namespaces.Add(ns);
            Shell.Ip("-n", Host, "link", "add", "low0", "type", "veth", "peer", "name", "ext0", "netns", Ext);
            Shell.Ip("-n", Host, "link", "set", "low0", "up");
            // the wire sends nothing of its own (no IPv6 there): what reaches a NIC is the test's frame
            Shell.Run("ip", "netns", "exec", Ext, "sysctl", "-qw", "net.ipv6.conf.ext0.disable_ipv6=1");
            Shell.Ip("-n", Ext, "link", "set", "ext0", "up");
        }
        catch { Dispose(); throw; }
    }

    public void Dispose()
    {
        _namespaces.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private MvtapdProcess Started()
    {
        var d = new MvtapdProcess(Path.Combine(_root, "run"), Path.Combine(_root, "state"), "--netns", Host);
        d.StartAndWait();
        return d;
    }

    private static bool Shown(MvtapdProcess d, string name) => d.Cli("link", "show", name).Status == 0;

    private static JsonElement[] Saved(MvtapdProcess d) =>
        [.. JsonDocument.Parse(File.ReadAllText(Path.Combine(d.StateDir, "state.json"))).RootElement.GetProperty("endpoints").EnumerateArray()];

    private void AddG0(MvtapdProcess d)
    {
        var add = d.Cli("link", "add", "link", "low0", "name", "g0", "type", "macvlan", "mode", "bridge", "address", Mac, "netns", Guest, "up");
        Assert.True(add.Status == 0, add.Err);
    }

    [Fact]
    public void A_nic_deleted_inside_its_container_deletes_the_endpoint_for_good()
    {
        Assert.True(TestHost.IsRoot, "needs root");
        using var d = Started();
        AddG0(d);
        Shell.Ip("-n", Guest, "link", "del", "g0");

        Assert.False(TestNet.WaitFor(() => Shown(d, "g0"), shown => !shown), d.Output);
        // mvtapd logs through the host's logger, which writes on a thread of its own: the line may follow the deletion
        Assert.Contains($"g0: its interface g0 was deleted in namespace {Guest}; endpoint deleted", TestNet.WaitFor(() => d.Output, o => o.Contains($"g0: its interface g0 was deleted in namespace {Guest}; endpoint deleted", StringComparison.Ordinal)));
        Assert.Empty(TestNet.WaitFor(() => Saved(d), e => e.Length == 0));
        // its MAC is free again: a new endpoint takes it and comes up
        var again = d.Cli("link", "add", "link", "low0", "name", "g1", "type", "macvlan", "address", Mac, "netns", Guest, "up");
        Assert.True(again.Status == 0, again.Err);
        Assert.Equal(0, d.Cli("link", "del", "g1").Status);

        d.Signal(15);
        d.WaitForExit();
        d.StartAndWait();
        Assert.False(Shown(d, "g0"));
        Assert.Equal(1, Shell.Run("ip", "-n", Guest, "link", "show", "g0").Status); // not made again in the container
    }

    [Fact]
    public void A_namespace_deleted_with_its_container_deletes_the_endpoint()
    {
        Assert.True(TestHost.IsRoot, "needs root");
        using var d = Started();
        AddG0(d);
        Shell.Ip("netns", "del", Guest);
        _namespaces.Forget(Guest);

        Assert.False(TestNet.WaitFor(() => Shown(d, "g0"), shown => !shown), d.Output);
        // mvtapd logs through the host's logger, which writes on a thread of its own: the line may follow the deletion
        // which the monitor sees first, the namespace's going or its devices' deletion, is the kernel's timing; when the
        // namespace is already closed by the time the deletion is read, the place is named by its netnsid, not its name
        var line = new System.Text.RegularExpressions.Regex(@"g0: its interface g0 (went with namespace|was deleted in namespace|was deleted in the namespace with netnsid) \S+; endpoint deleted");
        string output = TestNet.WaitFor(() => d.Output, o => line.IsMatch(o));
        Assert.Matches(line, output);
        Assert.Empty(TestNet.WaitFor(() => Saved(d), e => e.Length == 0));
    }

    [Fact]
    public void A_nic_moved_on_by_its_container_is_followed_there_and_saved_there()
    {
        Assert.True(TestHost.IsRoot, "needs root");
        using var d = Started();
        AddG0(d);
        Shell.Ip("-n", Guest, "link", "set", "g0", "netns", Guest2);
        Shell.Ip("-n", Guest2, "link", "set", "g0", "up");
        const string group = "01:00:5e:0a:0b:0e";
        Shell.Ip("-n", Guest2, "maddr", "add", group, "dev", "g0");

        // a frame to the group from the wire reaches the NIC in its new namespace once the join is followed
        using var wire = NetNamespace.Run(Ext, () => new PacketSocket(IfIndex(Ext, "ext0"), new PacketSocketOptions { Protocol = 0 }));
        var frame = new byte[60];
        Convert.FromHexString(group.Replace(":", "", StringComparison.Ordinal)).CopyTo(frame, 0);
        Convert.FromHexString("02000000aa01").CopyTo(frame, 6);
        frame[12] = 0x88; frame[13] = 0xB5;
        long before = RxPackets(Guest2, "g0");
        Assert.True(TestNet.WaitFor(() => { wire.Send(frame); Thread.Sleep(50); return RxPackets(Guest2, "g0") > before; }, got => got), d.Output);
        Assert.True(Shown(d, "g0"));
        Assert.Equal(Guest2, TestNet.WaitFor(() => Saved(d).Single().GetProperty("netns").GetString(), ns => ns == Guest2));
    }

    private static int IfIndex(string ns, string name) =>
        int.Parse(Shell.Run("ip", "netns", "exec", ns, "cat", $"/sys/class/net/{name}/ifindex").Output.Trim(), System.Globalization.CultureInfo.InvariantCulture);

    private static long RxPackets(string ns, string name) =>
        long.Parse(Shell.Run("ip", "netns", "exec", ns, "cat", $"/sys/class/net/{name}/statistics/rx_packets").Output.Trim(), System.Globalization.CultureInfo.InvariantCulture);
}
