// The host port with real traffic (issue 14): mvtapd runs in a namespace that plays the host, with
// a host port mvhost0 (10.81.0.1) on its lower and one container-style guest per mode (vepa,
// bridge, private, source) on macvlan endpoints, behind a plain veth peer or a hairpinning bridge.
// The host pings every guest through the host port and every guest pings the host; a TCP transfer
// with a SHA-256 goes each way. Guests with hostaccess off follow the kernel's rules: vepa and
// private ones without a hairpin switch exchange nothing with the host (their frames are counted
// as sent to the wire), a bridge one is reached directly.
using System.Security.Cryptography;
using System.Text.Json;
using Mvtap.Cli.Demo;

namespace Mvtap.Daemon.Tests;

public sealed class HostPortTrafficTests : IDisposable
{
    private const string HostIp = "10.81.0.1";
    private static readonly string[] Modes = ["vepa", "bridge", "private", "source"];
    private readonly string _prefix = $"mvh{TestNet.Suffix()}";
    private readonly string _root = Directory.CreateTempSubdirectory("mvtapd-hostport-").FullName;
    private readonly NamespaceSet _namespaces = new();

    private string Host => $"{_prefix}-h";
    private string Ext => $"{_prefix}-x";
    private string GuestNs(string name) => $"{_prefix}-{name}";

    public void Dispose()
    {
        _namespaces.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    // the host (mvtapd's namespace) with lower low0, whose peer ext0 is alone or a hairpin bridge port
    private void MakeLower(bool hairpin)
    {
        foreach (var ns in new[] { Host, Ext }) _namespaces.Add(ns, loopbackUp: true);
        Shell.Ip("-n", Host, "link", "add", "low0", "type", "veth", "peer", "name", "ext0", "netns", Ext);
        Shell.Ip("-n", Host, "link", "set", "low0", "up");
        if (hairpin)
        {
            Shell.Ip("-n", Ext, "link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0");
            Shell.Ip("-n", Ext, "link", "set", "ext0", "master", "br0");
            Shell.Ip("-n", Ext, "link", "set", "ext0", "type", "bridge_slave", "hairpin", "on");
            Shell.Ip("-n", Ext, "link", "set", "br0", "up");
        }
        Shell.Ip("-n", Ext, "link", "set", "ext0", "up");
    }

    private MvtapdProcess StartWithHostPort()
    {
        var d = new MvtapdProcess(Path.Combine(_root, "run"), Path.Combine(_root, "state"), "--netns", Host);
        d.StartAndWait();
        d.MustCli("link", "add", "link", "low0", "name", "mvhost0", "type", "host", "up");
        Shell.Ip("-n", Host, "addr", "add", HostIp + "/24", "dev", "mvhost0");
        Shell.Ip("-n", Host, "link", "set", "mvhost0", "up");
        return d;
    }

    private void AddGuest(MvtapdProcess d, string name, string mode, int host, string hostAccess = "on")
    {
        var ns = _namespaces.Add(GuestNs(name), loopbackUp: true);
        d.MustCli("link", "add", "link", "low0", "name", name, "type", "macvlan", "mode", mode, "hostaccess", hostAccess, "netns", ns, "up");
        Shell.Ip("-n", ns, "addr", "add", $"10.81.0.{host}/24", "dev", name);
        Shell.Ip("-n", ns, "link", "set", name, "up");
    }

    private static bool Reaches(string ns, string ip)
    {
        for (int i = 0; i < 4; i++) if (Shell.Ping(ns, ip)) return true;
        return false;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_host_reaches_a_guest_of_every_mode_through_the_host_port_and_back(bool hairpin)
    {
        Assert.True(TestHost.IsRoot, "needs root");
        MakeLower(hairpin);
        using var d = StartWithHostPort();
        for (int i = 0; i < Modes.Length; i++) AddGuest(d, $"g{Modes[i][0]}", Modes[i], 10 + i);
        var payload = RandomNumberGenerator.GetBytes(4 << 20);
        var hash = SHA256.HashData(payload);
        for (int i = 0; i < Modes.Length; i++)
        {
            var ns = GuestNs($"g{Modes[i][0]}");
            string guestIp = $"10.81.0.{10 + i}";
            Assert.True(Reaches(Host, guestIp), $"the host does not reach the {Modes[i]} guest (hairpin {hairpin})\n{d.Output}");
            Assert.True(Reaches(ns, HostIp), $"the {Modes[i]} guest does not reach the host (hairpin {hairpin})");
            var bound = TimeSpan.FromSeconds(60);
            Assert.Equal(hash, TcpTransfer.SendAndHash(ns, guestIp, Host, 5201, payload, bound));
            Assert.Equal(hash, TcpTransfer.SendAndHash(Host, HostIp, ns, 5202, payload, bound));
        }
    }

    [Fact]
    public void Hostaccess_off_follows_the_kernel_no_traffic_from_vepa_or_private_without_hairpin_and_bridge_directly()
    {
        Assert.True(TestHost.IsRoot, "needs root");
        MakeLower(hairpin: false);
        using var d = StartWithHostPort();
        AddGuest(d, "ov", "vepa", 20, "off");
        AddGuest(d, "op", "private", 21, "off");
        AddGuest(d, "ob", "bridge", 22, "off");

        Assert.True(Reaches(Host, "10.81.0.22"), "the host does not reach the bridge guest with hostaccess off directly");
        Assert.True(Reaches(GuestNs("ob"), HostIp), "the bridge guest with hostaccess off does not reach the host");
        foreach (var (name, ip) in new[] { ("ov", "10.81.0.20"), ("op", "10.81.0.21") })
        {
            long sentBefore = TxPackets(d, name);
            Assert.False(Shell.Ping(GuestNs(name), HostIp), $"{name} (hostaccess off) reached the host without a hairpin switch");
            Assert.False(Shell.Ping(Host, ip), $"the host reached {name} (hostaccess off) without a hairpin switch");
            // what the guest sent is counted, and went to the wire (where nothing sends it back)
            Assert.True(TxPackets(d, name) > sentBefore, $"{name}'s frames were not counted\n{d.MustCli("-s", "link", "show", name)}");
        }
        var shown = d.MustCli("-d", "link", "show", "ov");
        Assert.Contains("hostaccess off", shown);
        var host = JsonDocument.Parse(d.MustCli("-j", "-d", "link", "show", "mvhost0")).RootElement[0];
        Assert.Equal("mvtap-host", host.GetProperty("linkinfo").GetProperty("info_kind").GetString());
    }

    [Fact]
    public void The_host_port_and_its_address_survive_an_mvtapd_restart()
    {
        Assert.True(TestHost.IsRoot, "needs root");
        MakeLower(hairpin: false);
        var d = StartWithHostPort();
        try
        {
            AddGuest(d, "gv", "vepa", 30);
            Assert.True(Reaches(GuestNs("gv"), HostIp), "before the restart");
            var mac = JsonDocument.Parse(d.MustCli("-j", "link", "show", "mvhost0")).RootElement[0].GetProperty("address").GetString();
            d.Stop();
            d.StartAndWait();
            var after = JsonDocument.Parse(d.MustCli("-j", "-d", "link", "show", "mvhost0")).RootElement[0];
            Assert.Equal(mac, after.GetProperty("address").GetString());
            Assert.Contains(HostIp + "/24", TestNet.Ip("-n", Host, "addr", "show", "dev", "mvhost0"));
            Assert.True(Reaches(GuestNs("gv"), HostIp), $"after the restart\n{d.Output}");
            Assert.True(Reaches(Host, "10.81.0.30"), "the host after the restart");
        }
        finally { d.Dispose(); }
    }

    private static long TxPackets(MvtapdProcess d, string name) =>
        JsonDocument.Parse(d.MustCli("-j", "-s", "link", "show", name)).RootElement[0]
            .GetProperty("stats64").GetProperty("tx").GetProperty("packets").GetInt64();
}
