// DHCP from the host through the host port (issue 14): dnsmasq listening on mvhost0 in mvtapd's
// namespace (the host's) hands an address to a container on a macvlan endpoint, a vepa one behind a
// plain veth peer, which the kernel's macvlan could never serve from the host: busybox udhcpc takes
// the lease, and the container then pings the host. The lower's peer is plain (no DHCP server and
// no hairpin), so the lease can only have come through the host port.
using Mvtap.Cli.Demo;

namespace Mvtap.Daemon.Tests;

public sealed class HostPortDhcpTests : IDisposable
{
    private readonly string _prefix = $"mvq{TestNet.Suffix()}";
    private readonly string _root = Directory.CreateTempSubdirectory("mvtapd-hostport-dhcp-").FullName;
    private readonly NamespaceSet _namespaces = new();
    private DnsmasqServer? _dnsmasq;

    private string Host => $"{_prefix}-h";
    private string Ext => $"{_prefix}-x";
    private string Guest => $"{_prefix}-g";

    public void Dispose()
    {
        _dnsmasq?.Dispose();
        _namespaces.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public void Dnsmasq_on_the_host_port_gives_a_vepa_container_its_address_and_the_container_pings_the_host()
    {
        Assert.True(TestHost.IsRoot, "needs root");
        foreach (var ns in new[] { Host, Ext, Guest }) _namespaces.Add(ns, loopbackUp: true);
        Shell.Ip("-n", Host, "link", "add", "low0", "type", "veth", "peer", "name", "ext0", "netns", Ext);
        Shell.Ip("-n", Host, "link", "set", "low0", "up");
        Shell.Ip("-n", Ext, "link", "set", "ext0", "up");
        using var d = new MvtapdProcess(Path.Combine(_root, "run"), Path.Combine(_root, "state"), "--netns", Host);
        d.StartAndWait();
        HostPortSetup.Add(d, Host, "low0", "10.82.0.1/24");
        d.MustCli("link", "add", "link", "low0", "name", "g0", "type", "macvlan", "mode", "vepa", "netns", Guest, "up");
        Shell.Ip("-n", Guest, "link", "set", "g0", "up");

        _dnsmasq = new DnsmasqServer(Host, HostPortSetup.Name, "10.82.0.50", "10.82.0.59", _root);

        // udhcpc's event script: the lease's address on the interface
        var script = Path.Combine(_root, "udhcpc.sh");
        File.WriteAllText(script, "#!/bin/sh\ncase \"$1\" in bound|renew) ip addr add \"$ip/${mask:-24}\" dev \"$interface\" ;; esac\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var lease = Sh.TryWith(null, 90, "ip", "netns", "exec", Guest, "busybox", "udhcpc", "-i", "g0", "-n", "-q", "-f", "-t", "10", "-T", "2", "-s", script);
        Assert.True(lease.Status == 0, $"udhcpc got no lease through the host port: {lease.Output}\n{_dnsmasq.Log}\n{d.Output}");
        var addr = TestNet.Ip("-n", Guest, "-4", "-o", "addr", "show", "dev", "g0");
        Assert.Contains("10.82.0.5", addr);

        bool reached = false;
        for (int i = 0; i < 4 && !reached; i++) reached = Shell.Ping(Guest, "10.82.0.1");
        Assert.True(reached, "the container with its DHCP address does not reach the host");
        var mac = TestNet.Ip("-n", Guest, "-br", "link", "show", "dev", "g0").Split(' ', StringSplitOptions.RemoveEmptyEntries)[2];
        Assert.True(_dnsmasq.LeasedTo(mac) is { } leased && addr.Contains(leased + "/"), $"dnsmasq's leases do not name g0 ({mac}) with its address {addr}:\n{_dnsmasq.Log}");
    }
}
