// The host port with real traffic (issue 14): mvtapd runs in a namespace that plays the host, with
// a host port mvhost0 (10.81.0.1) on its lower and one container-style guest per mode (vepa,
// bridge, private, source) on macvlan endpoints, behind a plain veth peer or a hairpinning bridge.
// The host pings every guest through the host port and every guest pings the host; a TCP transfer
// with a SHA-256 goes each way. Guests with hostaccess off follow the kernel's rules: vepa and
// private ones without a hairpin switch exchange nothing with the host, and the counters show
// where the frames went (each side's TX, the lower's frames to the wire and the wire's far end;
// nothing received by the other side, nothing dropped); a bridge one is reached directly.
using System.Security.Cryptography;
using System.Text.Json;
using Mvtap.Cli.Demo;

namespace Mvtap.Daemon.Tests;

public sealed class HostPortTrafficTests : IDisposable
{
    private const string HostIp = "10.81.0.1";
    // echo requests sent each way in the counted exchange
    private const int Echoes = 3;
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
    private void MakeLower(bool hairpin, bool quiet = false)
    {
        foreach (var ns in new[] { Host, Ext }) Add(ns, quiet);
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

    // quiet: IPv6 off in the namespace (no ND, MLD or router solicitations of its own), so that
    // every frame crossing the port is one the test sent and the counters can be compared exactly
    private string Add(string ns, bool quiet)
    {
        _namespaces.Add(ns, loopbackUp: true);
        if (quiet)
            Sh.Must("ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
        return ns;
    }

    private MvtapdProcess StartWithHostPort()
    {
        var d = new MvtapdProcess(Path.Combine(_root, "run"), Path.Combine(_root, "state"), "--netns", Host);
        d.StartAndWait();
        HostPortSetup.Add(d, Host, "low0", HostIp + "/24");
        return d;
    }

    private void AddGuest(MvtapdProcess d, string name, string mode, int host, string hostAccess = "on", bool quiet = false)
    {
        var ns = Add(GuestNs(name), quiet);
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
    public void Hostaccess_off_follows_the_kernel_vepa_and_private_guests_without_hairpin_exchange_nothing_with_the_host_their_frames_counted_to_the_wire_and_a_bridge_guest_is_reached_directly()
    {
        Assert.True(TestHost.IsRoot, "needs root");
        MakeLower(hairpin: false, quiet: true);
        using var d = StartWithHostPort();
        AddGuest(d, "ov", "vepa", 20, "off", quiet: true);
        AddGuest(d, "op", "private", 21, "off", quiet: true);
        AddGuest(d, "ob", "bridge", 22, "off", quiet: true);

        // first, while the namespaces are silent: exactly the echo requests each way, counted
        AssertExchangeGoesToTheWire(d, "ov", "10.81.0.20");
        AssertExchangeGoesToTheWire(d, "op", "10.81.0.21");

        Assert.True(Reaches(Host, "10.81.0.22"), "the host does not reach the bridge guest with hostaccess off directly");
        Assert.True(Reaches(GuestNs("ob"), HostIp), "the bridge guest with hostaccess off does not reach the host");
        // and with ARP as usual (the broadcasts follow the kernel's rules too)
        foreach (var (name, ip) in new[] { ("ov", "10.81.0.20"), ("op", "10.81.0.21") })
        {
            Assert.False(Shell.Ping(GuestNs(name), HostIp), $"{name} (hostaccess off) reached the host without a hairpin switch");
            Assert.False(Shell.Ping(Host, ip), $"the host reached {name} (hostaccess off) without a hairpin switch");
        }
        var shown = d.MustCli("-d", "link", "show", "ov");
        Assert.Contains("hostaccess off", shown);
        var host = JsonDocument.Parse(d.MustCli("-j", "-d", "link", "show", HostPortSetup.Name)).RootElement[0];
        Assert.Equal("mvtap-host", host.GetProperty("linkinfo").GetProperty("info_kind").GetString());
    }

    // Echo requests from the guest to the host port and back, with permanent neighbour entries so
    // that no ARP joins them: each side's frames are counted as its TX and as the lower's frames
    // to the wire, arrive at the wire's far end (ext0), and reach neither the other side nor any
    // drop counter. Ping fails both ways. The entries go again at the end.
    private void AssertExchangeGoesToTheWire(MvtapdProcess d, string name, string guestIp)
    {
        var ns = GuestNs(name);
        Shell.Ip("-n", ns, "neigh", "replace", HostIp, "lladdr", Address(d, HostPortSetup.Name), "dev", name, "nud", "permanent");
        Shell.Ip("-n", Host, "neigh", "replace", guestIp, "lladdr", Address(d, name), "dev", HostPortSetup.Name, "nud", "permanent");

        var before = Read(d, name);
        Assert.False(PingsAnswered(ns, HostIp), $"{name} (hostaccess off) reached the host without a hairpin switch");
        var sent = TestNet.WaitFor(() => Read(d, name), c => c.LowerTx - before.LowerTx >= Echoes && c.WireRx - before.WireRx >= Echoes, 30);
        var where = $"{name} to the host: before {before}, after {sent}\n{d.MustCli("-s", "-s", "link", "show", name)}{d.MustCli("-s", "-s", "link", "show", HostPortSetup.Name)}";
        Assert.True(sent.GuestTx - before.GuestTx == Echoes, $"the guest's TX did not count its {Echoes} echo requests: {where}");
        Assert.True(sent.LowerTx - before.LowerTx == Echoes, $"the lower's frames to the wire are not the {Echoes} echo requests: {where}");
        Assert.True(sent.WireRx - before.WireRx == Echoes, $"the wire's far end did not receive the {Echoes} echo requests: {where}");
        Assert.True(sent.HostRx == before.HostRx && sent.HostTx == before.HostTx, $"the host port took part: {where}");
        Assert.True(sent.Dropped == before.Dropped, $"a frame was dropped instead of sent to the wire: {where}");

        Assert.False(PingsAnswered(Host, guestIp), $"the host reached {name} (hostaccess off) without a hairpin switch");
        var back = TestNet.WaitFor(() => Read(d, name), c => c.LowerTx - sent.LowerTx >= Echoes && c.WireRx - sent.WireRx >= Echoes, 30);
        where = $"the host to {name}: before {sent}, after {back}\n{d.MustCli("-s", "-s", "link", "show", name)}{d.MustCli("-s", "-s", "link", "show", HostPortSetup.Name)}";
        Assert.True(back.HostTx - sent.HostTx == Echoes, $"the host port's TX did not count its {Echoes} echo requests: {where}");
        Assert.True(back.LowerTx - sent.LowerTx == Echoes, $"the lower's frames to the wire are not the {Echoes} echo requests: {where}");
        Assert.True(back.WireRx - sent.WireRx == Echoes, $"the wire's far end did not receive the {Echoes} echo requests: {where}");
        Assert.True(back.GuestRx == sent.GuestRx && back.GuestTx == sent.GuestTx, $"the guest took part: {where}");
        Assert.True(back.Dropped == sent.Dropped, $"a frame was dropped instead of sent to the wire: {where}");
        Shell.Ip("-n", ns, "neigh", "del", HostIp, "dev", name);
        Shell.Ip("-n", Host, "neigh", "del", guestIp, "dev", HostPortSetup.Name);
    }

    private static bool PingsAnswered(string ns, string ip) =>
        Shell.Run("ip", "netns", "exec", ns, "ping", "-c", Echoes.ToString(), "-i", "0.2", "-W", "1", "-q", ip).Status == 0;

    /// <summary>The counters one exchange moves: the guest's and the host port's (mvtap -s), the
    /// lower's frames to the wire (stats64.lower), what ext0 received (the kernel's), and every
    /// drop mvtap counted on the three.</summary>
    private readonly record struct Counted(long GuestTx, long GuestRx, long HostTx, long HostRx, long LowerTx, long WireRx, long Dropped);

    private Counted Read(MvtapdProcess d, string guest)
    {
        var g = Stats(d, guest);
        var h = Stats(d, HostPortSetup.Name);
        var wire = JsonDocument.Parse(TestNet.Ip("-n", Ext, "-j", "-s", "link", "show", "ext0")).RootElement[0].GetProperty("stats64");
        return new Counted(Packets(g, "tx"), Packets(g, "rx"), Packets(h, "tx"), Packets(h, "rx"),
            g.GetProperty("lower").GetProperty("tx_packets").GetInt64(), Packets(wire, "rx"), Drops(g) + Drops(h));
    }

    private static JsonElement Stats(MvtapdProcess d, string name) =>
        JsonDocument.Parse(d.MustCli("-j", "-s", "link", "show", name)).RootElement[0].GetProperty("stats64").Clone();

    private static long Packets(JsonElement stats, string direction) => stats.GetProperty(direction).GetProperty("packets").GetInt64();

    // tx/rx dropped and every drop reason, the lower's too
    private static long Drops(JsonElement stats)
    {
        long n = stats.GetProperty("rx").GetProperty("dropped").GetInt64() + stats.GetProperty("tx").GetProperty("dropped").GetInt64();
        foreach (var table in new[] { "drops_by_reason", "lower_drops_by_reason" })
            if (stats.TryGetProperty(table, out var reasons))
                foreach (var r in reasons.EnumerateObject()) n += r.Value.GetInt64();
        return n;
    }

    private static string Address(MvtapdProcess d, string name) =>
        JsonDocument.Parse(d.MustCli("-j", "link", "show", name)).RootElement[0].GetProperty("address").GetString()!;

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
}
