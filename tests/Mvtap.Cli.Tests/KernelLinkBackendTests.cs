// `mvtap --kernel link ...` against the real kernel, in a throwaway network namespace with a
// veth lower (needs root; without it the tests return early). What mvtap shows is compared with
// what `ip -j -d link show` reports for the same link.
using System.Text.Json;
using Mvtap.Cli;
using Mvtap.Linux;
using Mvtap.Linux.Netlink;

namespace Mvtap.Cli.Tests;

public sealed class KernelLinkBackendTests : IDisposable
{
    private readonly ThrowawayNamespace _namespace;
    private readonly KernelLinkBackend _backend;

    public KernelLinkBackendTests()
    {
        Assert.True(TestHost.IsRoot, "drives the kernel through rtnetlink: run as root (CI does)");
        _namespace = new ThrowawayNamespace();
        _backend = new KernelLinkBackend(() => Rtnetlink.InNamespace(_namespace.Name), () => NetNamespace.Open(_namespace.Name), TextWriter.Null);
    }

    public void Dispose() => _namespace.Dispose();

    private static string Ip(params string[] args) => TestNet.Ip(args);

    private CliResult Mvtap(string commandLine) => CliRun.Run(_backend, commandLine.Split(' '));

    [Fact]
    public void Add_show_set_delete_match_the_kernel()
    {
        Assert.True(TestHost.IsRoot, "drives the kernel through rtnetlink: run as root (CI does)");
        Assert.Equal(0, Mvtap("link add link l0 name m0 type macvtap address 02:11:22:33:44:55 bcqueuelen 7").Exit);
        Assert.Equal(0, Mvtap("link set m0 up").Exit);

        var shown = Mvtap("-j -d link show m0");
        Assert.Equal("", shown.Stderr);
        using var ours = JsonDocument.Parse(shown.Stdout);
        using var kernel = JsonDocument.Parse(Ip("-n", _namespace.Name, "-j", "-d", "link", "show", "m0"));
        var o = ours.RootElement[0];
        var k = kernel.RootElement[0];
        foreach (var field in new[] { "ifindex", "ifname", "link", "address", "operstate", "mtu", "txqlen", "min_mtu", "max_mtu", "promiscuity" })
            Assert.Equal(k.GetProperty(field).GetRawText(), o.GetProperty(field).GetRawText());
        Assert.Equal(k.GetProperty("flags").GetRawText(), o.GetProperty("flags").GetRawText());
        Assert.Equal(k.GetProperty("linkinfo").GetProperty("info_kind").GetString(), o.GetProperty("linkinfo").GetProperty("info_kind").GetString());
        Assert.Equal(k.GetProperty("linkinfo").GetProperty("info_data").GetRawText(), o.GetProperty("linkinfo").GetProperty("info_data").GetRawText());

        string text = Mvtap("-d link show m0").Stdout;
        Assert.Contains("    macvtap mode vepa bcqueuelen 7 usedbcqueuelen 7 ", text);

        Assert.Equal(0, Mvtap("link set m0 mode bridge").Exit);
        Assert.Contains("\"mode\":\"bridge\"", Ip("-n", _namespace.Name, "-j", "-d", "link", "show", "m0"));

        Assert.Equal(0, Mvtap("link del m0").Exit);
        var gone = Mvtap("link show m0");
        Assert.Equal(1, gone.Exit);
        Assert.Equal("Error: Device \"m0\" does not exist.\n", gone.Stderr);
    }

    [Fact]
    public void Kernel_refusals_come_back_as_exit_1()
    {
        Assert.True(TestHost.IsRoot, "drives the kernel through rtnetlink: run as root (CI does)");
        Assert.Equal(0, Mvtap("link add link l0 name m1 type macvlan address 02:00:00:00:00:aa").Exit);
        Assert.Equal(0, Mvtap("link add link l0 name m2 type macvlan address 02:00:00:00:00:aa").Exit);
        Assert.Equal(0, Mvtap("link set m1 up").Exit);

        var inUse = Mvtap("link set m2 up");
        Assert.Equal(1, inUse.Exit);
        Assert.Contains("Address already in use", inUse.Stderr);

        var dup = Mvtap("link add link l0 name m1 type macvlan");
        Assert.Equal(1, dup.Exit);
        Assert.StartsWith("RTNETLINK answers: File exists", dup.Stderr);

        var noLower = Mvtap("link add link nosuch name m3 type macvlan");
        Assert.Equal(1, noLower.Exit);
        Assert.Equal("Error: Cannot find device \"nosuch\".\n", noLower.Stderr);

        var notSource = Mvtap("link set m1 macaddr add 02:00:00:00:00:01");
        Assert.Equal(1, notSource.Exit);

        // vhost-user guest memory is mvtapd's: the kernel has no such setting
        var guestmem = Mvtap("link add link l0 name m4 type macvtap guestmem any");
        Assert.Equal(1, guestmem.Exit);
        Assert.Contains("guestmem is a setting of mvtapd", guestmem.Stderr);
        Assert.Equal(1, Mvtap("link show m4").Exit);
    }

    [Fact]
    public void Source_list_operations_reach_the_kernel()
    {
        Assert.True(TestHost.IsRoot, "drives the kernel through rtnetlink: run as root (CI does)");
        Assert.Equal(0, Mvtap("link add link l0 name s0 type macvlan mode source macaddr 02:00:00:00:00:01 02:00:00:00:00:02").Exit);
        Assert.Equal(0, Mvtap("link set s0 macaddr add 02:00:00:00:00:03 02:00:00:00:00:04").Exit);
        Assert.Equal(0, Mvtap("link set s0 macaddr del 02:00:00:00:00:01").Exit);
        var view = Assert.Single(_backend.Show(new Mvtap.Control.LinkShowRequest { Name = "s0" }));
        Assert.Equal(["02:00:00:00:00:02", "02:00:00:00:00:03", "02:00:00:00:00:04"], view.Macaddrs.Order().ToList());
        Assert.Equal(0, Mvtap("link set s0 macaddr flush").Exit);
        Assert.Empty(Assert.Single(_backend.Show(new Mvtap.Control.LinkShowRequest { Name = "s0" })).Macaddrs);
    }
}
