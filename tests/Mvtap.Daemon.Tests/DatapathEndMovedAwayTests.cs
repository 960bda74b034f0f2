// The datapath's (outer) end of a macvlan endpoint's veth pair moved out of mvtapd's namespace by
// someone else while mvtapd runs (`ip link set mvoNNNN netns X`, the wrong interface moved at 3 a.m.):
// it is mvtapd's own, so it is moved back and the endpoint carries traffic again (pinged before and
// after, through the endpoint, from the lower's far side); `link show` says UP,LOWER_UP only while the
// endpoint's interface has carrier. Moved where mvtapd cannot reach, it is deleted with the endpoint;
// that case is not built here (as root mvtapd reaches every namespace a process or a name holds).
using System.Text.Json;

namespace Mvtap.Daemon.Tests;

public sealed class DatapathEndMovedAwayTests : IDisposable
{
    private readonly string _prefix = $"mvdm{TestNet.Suffix()}";
    private readonly string _root = Directory.CreateTempSubdirectory("mvtapd-outermoved-").FullName;
    private readonly NamespaceSet _namespaces = new();

    private string Host => $"{_prefix}-h";
    private string Ext => $"{_prefix}-x";
    private string Pod => $"{_prefix}-p";
    private string Away => $"{_prefix}-a";

    public void Dispose()
    {
        _namespaces.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private static bool Pings(string ns, string address) =>
        Sh.Try("ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "1", address).Status == 0;

    private static bool Carrier(string ns, string name) =>
        !Sh.Try("ip", "-n", ns, "link", "show", name).Output.Contains("NO-CARRIER", StringComparison.Ordinal);

    private static string[] Flags(MvtapdProcess d, string name) =>
        JsonDocument.Parse(d.MustCli("-j", "link", "show", name)).RootElement[0].GetProperty("flags")
            .EnumerateArray().Select(f => f.GetString()!).ToArray();

    [Fact]
    public void A_macvlan_endpoints_datapath_end_moved_to_another_namespace_is_moved_back_and_carries_traffic_again()
    {
        Assert.True(TestHost.IsRoot, "needs root");
        foreach (var ns in new[] { Host, Ext, Pod, Away }) _namespaces.Add(ns, loopbackUp: true);
        Sh.Ip("-n", Host, "link", "add", "low0", "type", "veth", "peer", "name", "ext0", "netns", Ext);
        Sh.Ip("-n", Host, "link", "set", "low0", "up");
        Sh.Ip("-n", Ext, "addr", "add", "10.83.0.1/24", "dev", "ext0");
        Sh.Ip("-n", Ext, "link", "set", "ext0", "up");
        using var d = new MvtapdProcess(Path.Combine(_root, "run"), Path.Combine(_root, "state"), "--netns", Host);
        d.StartAndWait();
        d.MustCli("link", "add", "link", "low0", "name", "mv1", "type", "macvlan", "mode", "bridge", "netns", Pod, "up");
        Sh.Ip("-n", Pod, "addr", "add", "10.83.0.2/24", "dev", "mv1");
        Assert.True(TestNet.Eventually(() => Pings(Ext, "10.83.0.2"), TimeSpan.FromSeconds(20)), $"no ping before the move\n{d.Output}");
        Assert.Contains("LOWER_UP", Flags(d, "mv1"));

        string outer = TestNet.Ip("-n", Pod, "-d", "link", "show", "mv1").Split('@')[1].Split(':')[0];
        string outerName = TestNet.Ip("-n", Host, "-o", "link", "show").Split('\n')
            .Select(l => l.Split(": ")).Where(f => f.Length > 1 && f[0] == outer.Replace("if", "", StringComparison.Ordinal))
            .Select(f => f[1].Split('@')[0]).Single();
        Sh.Ip("-n", Host, "link", "set", outerName, "netns", Away);

        // back in mvtapd's namespace, its endpoint's interface has carrier again and traffic flows
        Assert.True(TestNet.Eventually(() => Sh.Try("ip", "-n", Host, "link", "show", outerName).Status == 0
            && Sh.Try("ip", "-n", Away, "link", "show", outerName).Status != 0, TimeSpan.FromSeconds(20)),
            $"the datapath's end stayed in {Away}\n{d.Output}");
        Assert.True(TestNet.Eventually(() => Carrier(Pod, "mv1") && Pings(Ext, "10.83.0.2"), TimeSpan.FromSeconds(20)),
            $"no carrier or no ping after the move back\n{Sh.Try("ip", "-n", Pod, "link", "show", "mv1").Output}\n{d.Output}");
        Assert.Contains("LOWER_UP", Flags(d, "mv1"));
        Assert.Contains("moved back and carried again", d.Output);
    }
}
