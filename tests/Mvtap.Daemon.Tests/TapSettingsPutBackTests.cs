// A persistent TAP endpoint's MAC and MTU are the endpoint's, as a kernel macvtap's are its device's:
// the pod's owner setting the TAP's MTU below the endpoint's (which would drop every delivery above
// it) or giving it another MAC (KubeVirt reads the guest's MAC from it) has them put back, logged
// once per change; its admin state stays the owner's to change.
using System.Text.Json;

namespace Mvtap.Daemon.Tests;

public sealed class TapSettingsPutBackTests : IDisposable
{
    private readonly string _prefix = $"mvtp{TestNet.Suffix()}";
    private readonly string _root = Directory.CreateTempSubdirectory("mvtapd-tapputback-").FullName;
    private readonly NamespaceSet _namespaces = new();

    private string Host => $"{_prefix}-h";
    private string Ext => $"{_prefix}-x";
    private string Pod => $"{_prefix}-p";

    public void Dispose()
    {
        _namespaces.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private JsonElement Tap() => JsonDocument.Parse(TestNet.Ip("-j", "-n", Pod, "link", "show", "net1")).RootElement[0];

    private static int Occurrences(string text, string what) =>
        text.Split(what).Length - 1;

    [Fact]
    public void A_taps_mtu_or_mac_changed_by_the_pods_owner_is_put_back_and_logged_once_per_change()
    {
        Assert.True(TestHost.IsRoot, "needs root");
        foreach (var ns in new[] { Host, Ext, Pod }) _namespaces.Add(ns, loopbackUp: true);
        Sh.Ip("-n", Host, "link", "add", "low0", "type", "veth", "peer", "name", "ext0", "netns", Ext);
        Sh.Ip("-n", Host, "link", "set", "low0", "up");
        using var d = new MvtapdProcess(Path.Combine(_root, "run"), Path.Combine(_root, "state"), "--netns", Host);
        d.StartAndWait();
        d.MustCli("link", "add", "link", "low0", "name", "vm0", "type", "macvtap", "tap", "net1", "netns", Pod, "up");
        var shown = JsonDocument.Parse(d.MustCli("-j", "link", "show", "vm0")).RootElement[0];
        string mac = shown.GetProperty("address").GetString()!;
        int mtu = shown.GetProperty("mtu").GetInt32();
        Assert.Equal(mtu, Tap().GetProperty("mtu").GetInt32());

        Sh.Ip("-n", Pod, "link", "set", "net1", "mtu", (mtu - 100).ToString());
        Assert.True(TestNet.Eventually(() => Tap().GetProperty("mtu").GetInt32() == mtu, TimeSpan.FromSeconds(20)),
            $"the TAP kept the owner's MTU\n{d.Output}");
        Sh.Ip("-n", Pod, "link", "set", "net1", "address", "02:42:42:42:42:42");
        Assert.True(TestNet.Eventually(() => Tap().GetProperty("address").GetString() == mac, TimeSpan.FromSeconds(20)),
            $"the TAP kept the owner's MAC\n{d.Output}");
        Assert.Equal(mtu, Tap().GetProperty("mtu").GetInt32());

        // set down by its owner: left down (its socket follows it); each change logged once
        Sh.Ip("-n", Pod, "link", "set", "net1", "down");
        Assert.Equal(1, Occurrences(d.Output, $"mtu {mtu - 100}; the endpoint's are"));
        Assert.Equal(1, Occurrences(d.Output, "address 02:42:42:42:42:42 "));
        Assert.DoesNotContain("UP", Tap().GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
    }
}
