// The plugin's reading of network configurations and of its environment, by table: the
// reference macvlan plugin's keys and defaults, mvtap's own, the MAC's precedence (mac, then
// CNI_ARGS MAC=, then runtimeConfig.mac), and the spec's error codes for what it cannot use.
using System.Text;

namespace Mvtap.Cni.Tests;

public sealed class NetConfParserTests
{
    private static NetConf Parse(string json, string? macArg = null) => NetConfParser.Parse(Encoding.UTF8.GetBytes(json), macArg);

    private static int Code(Action a) => Assert.Throws<CniError>(a).Code;

    [Fact]
    public void Defaults_are_the_reference_plugins_bridge_mode_and_a_macvlan_endpoint()
    {
        var c = Parse("""{"cniVersion":"1.0.0","name":"n","type":"mvtap"}""");
        Assert.Equal("bridge", c.Mode);
        Assert.Equal(EndpointType.Macvlan, c.Endpoint);
        Assert.Null(c.Master);
        Assert.Equal(0, c.Mtu);
        Assert.True(c.SpoofCheck);
        Assert.Equal("/run/mvtap", c.RunDir);
        Assert.Equal("/run/mvtap/mvtapd.sock", c.SocketPath);
        Assert.Equal("/run/mvtap/vhost-user", c.SocketDir);
        Assert.Null(c.IpamType);
    }

    [Theory]
    [InlineData("bridge")]
    [InlineData("vepa")]
    [InlineData("private")]
    [InlineData("passthru")]
    [InlineData("source")]
    public void Every_mode_of_the_kernel_is_accepted(string mode) =>
        Assert.Equal(mode, Parse($$"""{"cniVersion":"1.0.0","name":"n","mode":"{{mode}}"}""").Mode);

    [Fact]
    public void Mac_from_runtimeConfig_beats_CNI_ARGS_which_beats_the_configuration()
    {
        const string conf = """{"cniVersion":"1.0.0","name":"n","mac":"02:00:00:00:00:01"}""";
        Assert.Equal("02:00:00:00:00:01", Parse(conf).Mac);
        Assert.Equal("02:00:00:00:00:02", Parse(conf, "02:00:00:00:00:02").Mac);
        Assert.Equal("02:00:00:00:00:03", Parse("""{"cniVersion":"1.0.0","name":"n","mac":"02:00:00:00:00:01","runtimeConfig":{"mac":"02:00:00:00:00:03"}}""",
            "02:00:00:00:00:02").Mac);
    }

    [Fact]
    public void Mvtaps_own_keys_are_read()
    {
        var c = Parse("""
            {"cniVersion":"1.1.0","name":"vm-net","endpoint":"vhost-user","master":"eth1","mode":"vepa","mtu":1400,
             "bcqueuelen":64,"spoofchk":false,"guestMemory":"any","runDir":"/run/x","socketDir":"/var/lib/s","owner":"107","group":"107",
             "runtimeConfig":{"CNIDeviceInfoFile":"/var/run/k8s.cni.cncf.io/devinfo/cni/x"},"ipam":{"type":"host-local"}}
            """);
        Assert.Equal((EndpointType.VhostUser, "eth1", "vepa", 1400, 64u), (c.Endpoint, c.Master, c.Mode, c.Mtu, c.BcQueueLen));
        Assert.False(c.SpoofCheck);
        Assert.Equal(("any", "/run/x", "/var/lib/s", "107", "107"), (c.GuestMemory, c.RunDir, c.SocketDir, c.Owner, c.Group));
        Assert.Equal("/var/run/k8s.cni.cncf.io/devinfo/cni/x", c.DeviceInfoFile);
        Assert.Equal("host-local", c.IpamType);
    }

    [Fact]
    public void Endpoint_tap_is_accepted_by_the_configuration()
    {
        var c = Parse("""{"cniVersion":"1.0.0","name":"n","endpoint":"tap","owner":"107","group":"107"}""");
        Assert.Equal(EndpointType.Tap, c.Endpoint);
    }

    [Fact]
    public void Valid_attachments_of_GC_are_read()
    {
        var c = Parse("""{"cniVersion":"1.1.0","name":"n","cni.dev/valid-attachments":[{"containerID":"a","ifname":"eth0"},{"containerID":"b","ifname":"net1"}]}""");
        Assert.Equal([("a", "eth0"), ("b", "net1")], c.ValidAttachments!);
    }

    [Theory]
    [InlineData("""not json""", 6)]
    [InlineData("""[1,2]""", 6)]
    [InlineData("""{"cniVersion":"1.0.0"}""", 7)]
    [InlineData("""{"cniVersion":"1.0.0","name":"-bad"}""", 7)]
    [InlineData("""{"cniVersion":"1.0.0","name":"n","mode":"bridged"}""", 7)]
    [InlineData("""{"cniVersion":"1.0.0","name":"n","mtu":-1}""", 7)]
    [InlineData("""{"cniVersion":"1.0.0","name":"n","mtu":"1500"}""", 6)]
    [InlineData("""{"cniVersion":"1.0.0","name":"n","mac":"02:00:00:00:00"}""", 7)]
    [InlineData("""{"cniVersion":"1.0.0","name":"n","endpoint":"veth"}""", 7)]
    [InlineData("""{"cniVersion":"1.0.0","name":"n","guestMemory":"any"}""", 7)]
    [InlineData("""{"cniVersion":"1.0.0","name":"n","endpoint":"vhost-user","guestMemory":"locked"}""", 7)]
    [InlineData("""{"cniVersion":"1.0.0","name":"n","owner":"107"}""", 7)]
    [InlineData("""{"cniVersion":"1.0.0","name":"n","macaddrs":["02:00:00:00:00:01"]}""", 7)]
    [InlineData("""{"cniVersion":"1.0.0","name":"n","runDir":"run/mvtap"}""", 7)]
    [InlineData("""{"cniVersion":"1.0.0","name":"n","socketDir":"/x"}""", 7)]
    [InlineData("""{"cniVersion":"1.0.0","name":"n","ipam":{"type":"../../bin/sh"}}""", 7)]
    [InlineData("""{"cniVersion":"1.0.0","name":"n","spoofchk":"no"}""", 6)]
    [InlineData("""{"cniVersion":"1.0.0","name":"n","bcqueuelen":-5}""", 6)]
    [InlineData("""{"cniVersion":"1.0.0","name":"n","linkInContainer":true}""", 2)]
    [InlineData("""{"cniVersion":"1.1.0","name":"n","cni.dev/valid-attachments":{"containerID":"a"}}""", 6)]
    public void A_configuration_it_cannot_use_is_refused_with_the_specs_code(string json, int code) =>
        Assert.Equal(code, Code(() => Parse(json)));

    [Theory]
    [InlineData("0.3.1", "ADD", 0)]
    [InlineData("0.3.1", "CHECK", 1)]
    [InlineData("0.4.0", "CHECK", 0)]
    [InlineData("1.0.0", "STATUS", 1)]
    [InlineData("1.0.0", "GC", 1)]
    [InlineData("1.1.0", "GC", 0)]
    [InlineData("0.2.0", "ADD", 1)]
    [InlineData("2.0.0", "DEL", 1)]
    public void Versions_allow_the_commands_the_spec_gives_them(string version, string command, int code) =>
        Assert.Equal(code, code == 0 ? 0 : Code(() => CniVersions.Check(version, command)));

    private static CniEnvironment Env(params (string K, string V)[] vars) =>
        CniEnvironment.Read(k => vars.FirstOrDefault(v => v.K == k).V);

    [Fact]
    public void Missing_environment_is_error_4_naming_the_variables()
    {
        var e = Assert.Throws<CniError>(() => Env(("CNI_COMMAND", "ADD"), ("CNI_PATH", "/x")));
        Assert.Equal(4, e.Code);
        Assert.Contains("CNI_CONTAINERID", e.Message);
        Assert.Contains("CNI_NETNS", e.Message);
        Assert.Contains("CNI_IFNAME", e.Message);
        // DEL needs no namespace: the container may be gone
        Env(("CNI_COMMAND", "DEL"), ("CNI_CONTAINERID", "c1"), ("CNI_IFNAME", "eth0"), ("CNI_PATH", "/x"));
        Assert.Equal(4, Assert.Throws<CniError>(() => Env(("CNI_COMMAND", "BOGUS"))).Code);
        Assert.Contains("CNI_PATH", Assert.Throws<CniError>(() => Env(("CNI_COMMAND", "GC"))).Message);
    }

    [Theory]
    [InlineData("-abc", "eth0")]
    [InlineData("ab c", "eth0")]
    [InlineData("abc", "eth0/1")]
    [InlineData("abc", "a:b")]
    [InlineData("abc", "sixteen_chars_xx")]
    [InlineData("abc", "..")]
    public void A_bad_container_id_or_ifname_is_error_4(string id, string ifname) =>
        Assert.Equal(4, Assert.Throws<CniError>(() => Env(("CNI_COMMAND", "DEL"), ("CNI_CONTAINERID", id), ("CNI_IFNAME", ifname), ("CNI_PATH", "/x"))).Code);

    [Fact]
    public void CNI_ARGS_gives_MAC_and_leaves_other_keys_alone()
    {
        var env = Env(("CNI_COMMAND", "DEL"), ("CNI_CONTAINERID", "c"), ("CNI_IFNAME", "eth0"), ("CNI_PATH", "/x"),
            ("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=p;MAC=02:00:00:00:00:09"));
        Assert.Equal("02:00:00:00:00:09", env.MacArgument());
        var bad = Env(("CNI_COMMAND", "DEL"), ("CNI_CONTAINERID", "c"), ("CNI_IFNAME", "eth0"), ("CNI_PATH", "/x"), ("CNI_ARGS", "garbage"));
        Assert.Equal(4, Assert.Throws<CniError>(() => bad.MacArgument()).Code);
    }

    [Theory]
    [InlineData("/run/netns/cni-1234", "cni-1234")]
    [InlineData("/var/run/netns/cni-1234", "cni-1234")]
    [InlineData("/run/netns/../netns/x", "x")]
    public void A_named_namespace_path_gives_its_name(string path, string name) => Assert.Equal(name, NamespacePath.ToName(path));

    [Theory]
    [InlineData("/proc/1234/ns/net")]
    [InlineData("/run/netns")]
    [InlineData("/tmp/netns/x")]
    public void Another_namespace_path_is_error_4(string path) =>
        Assert.Equal(4, Assert.Throws<CniError>(() => NamespacePath.ToName(path)).Code);
}
