// The plugin exec'd as a runtime execs it, without a runtime: every command in every spec version
// it speaks, with the spec's environment, and every answer checked against the spec's schema
// (CniSchema) and against what it did (the NIC pings out, the endpoint and the address are gone
// after DEL). Each test has its own lab: namespaces, mvtapd, host-local data.
namespace Mvtap.Cni.Tests;

[Collection(PluginCollection.Name)]
public sealed class CniConformanceTests
{
    public static TheoryData<string> Versions => new() { "0.3.1", "0.4.0", "1.0.0", "1.1.0" };

    [Theory]
    [MemberData(nameof(Versions))]
    public void Add_check_del_answer_in_the_versions_schema_and_del_is_idempotent(string version)
    {
        using var lab = new CniLab();
        string netns = lab.NewContainerNamespace("c1"), ns = Path.GetFileName(netns);
        // Debian's IPAM plugins speak up to 1.0.0: in 1.1.0 the attachment is layer 2 only (no ipam)
        bool ipam = version != "1.1.0";
        string conf = lab.Conf(version, "net1", ipam: ipam);

        var add = CniLab.Plugin("ADD", conf, "c1", netns);
        Assert.True(add.Status == 0, add.ToString());
        Assert.Empty(CniSchema.AddResult(add.Json, version));
        var iface = add.Json.GetProperty("interfaces")[0];
        Assert.Equal("eth0", iface.GetProperty("name").GetString());
        Assert.Equal(netns, iface.GetProperty("sandbox").GetString());
        if (!ipam) Sh.Ip("-n", ns, "addr", "add", $"{CniLab.Subnet}.50/24", "dev", "eth0");
        Assert.True(CniLab.Ping(ns, CniLab.ExternalAddress), "the container's NIC does not reach the external host");
        var endpoint = Assert.Single(lab.Endpoints("net1"));
        Assert.Equal(iface.GetProperty("mac").GetString(), endpoint.GetProperty("address").GetString());
        if (version == "1.1.0") Assert.Equal(endpoint.GetProperty("mtu").GetInt32(), iface.GetProperty("mtu").GetInt32());
        string allocated = ipam
            ? Path.Combine(lab.IpamDir, "net1", add.Json.GetProperty("ips")[0].GetProperty("address").GetString()!.Split('/')[0])
            : "";
        Assert.True(!ipam || File.Exists(allocated), "host-local recorded no allocation");

        string withPrev = Json.With(conf, "prevResult", add.Stdout);
        if (version != "0.3.1")
        {
            var check = CniLab.Plugin("CHECK", withPrev, "c1", netns);
            Assert.True(check.Status == 0, check.ToString());
        }
        var again = CniLab.Plugin("ADD", conf, "c1", netns);
        Assert.NotEqual(0, again.Status);
        Assert.Empty(CniSchema.Error(again.Json));

        for (int i = 0; i < 2; i++)
        {
            var del = CniLab.Plugin("DEL", withPrev, "c1", netns);
            Assert.True(del.Status == 0, $"DEL #{i + 1}: {del}");
            Assert.Equal("", del.Stdout);
        }
        Assert.Empty(lab.Endpoints("net1"));
        Assert.True(!ipam || !File.Exists(allocated), "DEL did not release the address");
        Assert.Null(Sh.Try("ip", "-n", ns, "link", "show", "eth0") is (0, _) ? "eth0 still there" : null);
        if (version != "0.3.1")
        {
            var check = CniLab.Plugin("CHECK", withPrev, "c1", netns);
            Assert.Equal(100, check.ErrorCode);
            Assert.Empty(CniSchema.Error(check.Json));
        }
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void Version_answers_with_the_asked_version_and_every_supported_one(string version)
    {
        var run = CniLab.Plugin("VERSION", $"{{\"cniVersion\":\"{version}\"}}", ifName: null);
        Assert.True(run.Status == 0, run.ToString());
        Assert.Empty(CniSchema.Version(run.Json, version));
        Assert.Equal(["0.3.1", "0.4.0", "1.0.0", "1.1.0"], run.Json.GetProperty("supportedVersions").EnumerateArray().Select(v => v.GetString()));
    }

    [Fact]
    public void Failures_are_error_objects_with_the_specs_codes()
    {
        using var lab = new CniLab(startDaemon: false);
        string netns = lab.NewContainerNamespace("c1");
        string conf = lab.Conf("1.0.0", "net1");
        var cases = new (string What, int Code, PluginRun Run)[]
        {
            ("missing CNI_NETNS", 4, CniLab.Plugin("ADD", conf, "c1", null)),
            ("unknown command", 4, CniLab.Plugin("BOGUS", conf, "c1", netns)),
            ("undecodable configuration", 6, CniLab.Plugin("ADD", "{\"cniVersion\":", "c1", netns)),
            ("unsupported version", 1, CniLab.Plugin("ADD", lab.Conf("0.2.0", "net1"), "c1", netns)),
            ("CHECK in 0.3.1", 1, CniLab.Plugin("CHECK", lab.Conf("0.3.1", "net1"), "c1", netns)),
            ("STATUS in 1.0.0", 1, CniLab.Plugin("STATUS", conf)),
            ("GC without valid attachments", 7, CniLab.Plugin("GC", lab.Conf("1.1.0", "net1"))),
            ("CHECK without prevResult", 7, CniLab.Plugin("CHECK", conf, "c1", netns)),
            ("namespace not named", 4, CniLab.Plugin("ADD", conf, "c1", "/proc/1/ns/net")),
            ("mvtapd not running", 11, CniLab.Plugin("ADD", conf, "c1", netns)),
            ("STATUS, mvtapd not running", 50, CniLab.Plugin("STATUS", lab.Conf("1.1.0", "net1"))),
        };
        foreach (var (what, code, run) in cases)
        {
            Assert.True(run.ErrorCode == code, $"{what}: expected code {code}, got {run}");
            Assert.Empty(CniSchema.Error(run.Json));
        }

        _ = lab.Daemon;
        var noLower = CniLab.Plugin("ADD", conf.Replace($"\"master\":\"{lab.Lower}\"", "\"master\":\"nosuchdev0\""), "c1", netns);
        Assert.True(noLower.ErrorCode == 7, noLower.ToString());
        Assert.Contains("Cannot find device \"nosuchdev0\"", noLower.Json.GetProperty("msg").GetString());
        // an IPAM plugin that refuses the version fails ADD after the endpoint was made: nothing is left behind
        var ipamRefuses = CniLab.Plugin("ADD", lab.Conf("1.1.0", "net1"), "c1", netns);
        Assert.True(ipamRefuses.ErrorCode == 1, ipamRefuses.ToString());
        Assert.Contains("host-local", ipamRefuses.Json.GetProperty("msg").GetString());
        Assert.Empty(lab.Endpoints("net1"));
        Assert.Null(Sh.Try("ip", "-n", Path.GetFileName(netns), "link", "show", "eth0") is (0, _) ? "eth0 left behind" : null);
        // a tap whose name another interface in the namespace has is refused, and that interface is left alone
        Sh.Ip("-n", Path.GetFileName(netns), "link", "add", "eth0", "type", "veth", "peer", "name", "peer0");
        var tap = CniLab.Plugin("ADD", lab.Conf("1.0.0", "net1", ",\"endpoint\":\"tap\",\"owner\":\"107\",\"group\":\"107\"", ipam: false), "c1", netns);
        Assert.True(tap.ErrorCode == 101, tap.ToString());
        Assert.StartsWith("Error: ", tap.Json.GetProperty("msg").GetString());
        Assert.Empty(lab.Endpoints("net1"));
        Assert.Contains("veth", TestNet.Ip("-n", Path.GetFileName(netns), "-d", "link", "show", "eth0"));
        Assert.DoesNotContain(Directory.Exists(Path.Combine(lab.IpamDir, "net1")) ? Directory.GetFiles(Path.Combine(lab.IpamDir, "net1")) : [],
            f => Path.GetFileName(f).StartsWith(CniLab.Subnet));
    }
}

[CollectionDefinition(Name)]
public sealed class PluginCollection
{
    public const string Name = "cni plugin";
}
