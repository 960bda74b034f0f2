// What an operator or a pod's owner does behind mvtapd's back to the interfaces it made, with `ip`:
// moving the host port's mvhost0 into a container's namespace (the habit of the "macvlan shim"
// recipe) must not hand that container the host's reach to every guest: the interface is put back in
// the host's namespace, `link show` says so, and the host port still restores after a restart instead
// of staying stuck in the state file with its veth pair left behind. A persistent TAP renamed by its
// pod's owner, its name then taken by another device, is still carried, and `link show -d` says
// `renamed` instead of naming a device that is not the TAP. An endpoint whose datapath's end of the
// veth pair was moved out of mvtapd's namespace (the wrong interface moved at 3 a.m.) is deleted with
// its pair, so the operator's `link del` then `link add` works again.
using System.Text.Json;

namespace Mvtap.Daemon.Tests;

public sealed class BehindTheDaemonsBackTests : IDisposable
{
    private readonly string _prefix = $"mvht{TestNet.Suffix()}";
    private readonly string _root = Directory.CreateTempSubdirectory("mvtapd-hosttamper-").FullName;
    private readonly NamespaceSet _namespaces = new();

    private string Host => $"{_prefix}-h";
    private string Ext => $"{_prefix}-x";
    private string Other => $"{_prefix}-o";

    public void Dispose()
    {
        _namespaces.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private MvtapdProcess Start()
    {
        foreach (var ns in new[] { Host, Ext, Other }) _namespaces.Add(ns, loopbackUp: true);
        Sh.Ip("-n", Host, "link", "add", "low0", "type", "veth", "peer", "name", "ext0", "netns", Ext);
        Sh.Ip("-n", Host, "link", "set", "low0", "up");
        Sh.Ip("-n", Ext, "link", "set", "ext0", "up");
        var d = new MvtapdProcess(Path.Combine(_root, "run"), Path.Combine(_root, "state"), "--netns", Host);
        d.StartAndWait();
        return d;
    }

    private static bool Has(string ns, string name) => Sh.Try("ip", "-n", ns, "link", "show", name).Status == 0;

    private static JsonElement Shown(MvtapdProcess d, string name) =>
        JsonDocument.Parse(d.MustCli("-j", "-d", "link", "show", name)).RootElement[0];

    [Fact]
    public void A_host_port_moved_into_another_namespace_is_put_back_in_the_hosts_and_restores_after_a_restart()
    {
        Assert.True(TestHost.IsRoot, "needs root");
        using var d = Start();
        HostPortSetup.Add(d, Host, "low0", "10.82.0.1/24");
        var mac = Shown(d, HostPortSetup.Name).GetProperty("address").GetString();

        Sh.Ip("-n", Host, "link", "set", HostPortSetup.Name, "netns", Other);
        Assert.True(TestNet.Eventually(() => Has(Host, HostPortSetup.Name) && !Has(Other, HostPortSetup.Name), TimeSpan.FromSeconds(20)),
            $"the host port stayed in {Other}\n{d.Output}");
        var shown = Shown(d, HostPortSetup.Name);
        Assert.False(shown.TryGetProperty("link_netns", out var ns), $"shown in {ns}");
        Assert.Equal(mac, shown.GetProperty("address").GetString());

        d.Stop();
        d.StartAndWait();
        Assert.Equal(mac, Shown(d, HostPortSetup.Name).GetProperty("address").GetString());
        Assert.True(Has(Host, HostPortSetup.Name), d.Output);
        Assert.DoesNotContain("cannot restore", d.Output);
    }

    [Fact]
    public void A_tap_renamed_by_the_pods_owner_and_its_name_taken_by_a_veth_is_shown_renamed_not_as_a_tap_without_guest()
    {
        Assert.True(TestHost.IsRoot, "needs root");
        using var d = Start();
        d.MustCli("link", "add", "link", "low0", "name", "vm0", "type", "macvtap", "tap", "net1", "netns", Other, "owner", "107", "group", "107", "up");
        Assert.Equal("no-guest", TapState(d));

        Sh.Ip("-n", Other, "link", "set", "net1", "name", "moved1");
        Sh.Ip("-n", Other, "link", "add", "net1", "type", "veth", "peer", "name", "net1p");
        Assert.Equal("renamed", TapState(d));
        Assert.Contains("tap net1 renamed", d.MustCli("-d", "link", "show", "vm0"));

        Sh.Ip("-n", Other, "link", "del", "net1");
        Sh.Ip("-n", Other, "link", "set", "moved1", "name", "net1");
        Assert.Equal("no-guest", TapState(d));
    }

    private static string? TapState(MvtapdProcess d) =>
        Shown(d, "vm0").GetProperty("mvtap").GetProperty("tap").GetProperty("state").GetString();

    [Fact]
    public void Deleting_a_host_port_whose_datapath_end_was_moved_away_deletes_its_pair_and_the_name_can_be_added_again()
    {
        Assert.True(TestHost.IsRoot, "needs root");
        using var d = Start();
        HostPortSetup.Add(d, Host, "low0", "10.82.0.1/24");
        string outer = TestNet.Ip("-n", Host, "-o", "link", "show").Split('\n')
            .Select(l => l.Split(": ")).Where(f => f.Length > 1 && f[1].EndsWith("@" + HostPortSetup.Name, StringComparison.Ordinal))
            .Select(f => f[1].Split('@')[0]).Single();

        Sh.Ip("-n", Host, "link", "set", outer, "netns", Ext);
        d.MustCli("link", "del", HostPortSetup.Name);
        Assert.False(Has(Host, HostPortSetup.Name), "the host port's interface outlived it");
        Assert.False(Has(Ext, outer), "the datapath's end outlived its endpoint");
        d.MustCli("link", "add", "link", "low0", "name", HostPortSetup.Name, "type", "host", "up");
        Assert.True(Has(Host, HostPortSetup.Name));
    }
}
