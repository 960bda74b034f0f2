// The plugin across mvtapd's life and the containers': DEL, CHECK and GC after mvtapd restarted
// (the CNI attachment is in its state), DEL after the container's namespace went, STATUS while
// mvtapd is down, GC removing exactly the stale endpoints of its own network and releasing their
// addresses, CHECK noticing a NIC that no longer matches prevResult.
using System.Text.Json;

namespace Mvtap.Cni.Tests;

[Collection(PluginCollection.Name)]
public sealed class CniLifecycleTests
{
    [Fact]
    public void Del_and_check_work_after_mvtapd_restarted_and_del_after_the_namespace_went()
    {
        using var lab = new CniLab();
        string conf = lab.Conf("1.0.0", "net1"); // host-local 1.1.1 speaks up to 1.0.0
        string nsA = lab.NewContainerNamespace("a"), nsB = lab.NewContainerNamespace("b");
        var addA = CniLab.Plugin("ADD", conf, "ca", nsA);
        var addB = CniLab.Plugin("ADD", conf, "cb", nsB);
        Assert.True(addA.Status == 0 && addB.Status == 0, $"{addA}\n{addB}");

        lab.Daemon.Restart();
        var check = CniLab.Plugin("CHECK", Json.With(conf, "prevResult", addA.Stdout), "ca", nsA);
        Assert.True(check.Status == 0, $"CHECK after a restart: {check}");
        Assert.Contains("cni network net1 container ca ifname eth0", lab.Daemon.MustCli("-d", "link", "show"));
        Assert.True(CniLab.Ping(Path.GetFileName(nsA), CniLab.ExternalAddress), "traffic did not resume after the restart");

        var delA = CniLab.Plugin("DEL", conf, "ca", nsA);
        Assert.True(delA.Status == 0, delA.ToString());
        Assert.Single(lab.Endpoints("net1"));

        // B's container goes while mvtapd is down: it cannot bring B back, yet DEL succeeds and forgets it
        lab.Daemon.Stop();
        var delWhileDown = CniLab.Plugin("DEL", conf, "cb", nsB);
        Assert.True(delWhileDown.ErrorCode == 11, $"DEL with mvtapd down must ask to try again: {delWhileDown}");
        lab.DeleteNamespace(nsB);
        lab.Daemon.StartAndWait();
        var delB = CniLab.Plugin("DEL", conf, "cb", nsB);
        Assert.True(delB.Status == 0, delB.ToString());
        Assert.Empty(lab.Endpoints("net1"));
        Assert.DoesNotContain("\"cb\"", File.ReadAllText(Path.Combine(lab.Dir, "state", "state.json")));
        Assert.DoesNotContain(Directory.GetFiles(Path.Combine(lab.IpamDir, "net1")), f => Path.GetFileName(f).StartsWith(CniLab.Subnet));
    }

    [Fact]
    public void Status_is_ready_while_mvtapd_answers_and_50_while_it_is_down()
    {
        using var lab = new CniLab();
        string conf = lab.Conf("1.1.0", "net1");
        var ready = CniLab.Plugin("STATUS", conf, ifName: null);
        Assert.True(ready.Status == 0, ready.ToString());
        Assert.Equal("", ready.Stdout);
        lab.Daemon.Stop();
        var down = CniLab.Plugin("STATUS", conf, ifName: null);
        Assert.Equal(50, down.ErrorCode);
        Assert.Empty(CniSchema.Error(down.Json));
        lab.Daemon.StartAndWait();
        Assert.Equal(0, CniLab.Plugin("STATUS", conf, ifName: null).Status);
    }

    [Fact]
    public void Gc_after_a_restart_removes_the_stale_endpoints_of_its_network_only_and_releases_their_addresses()
    {
        using var lab = new CniLab();
        string net1 = lab.Conf("1.0.0", "net1"), net2 = lab.Conf("1.0.0", "net2");
        string ns = lab.NewContainerNamespace("a"), nsB = lab.NewContainerNamespace("b");
        Assert.Equal(0, CniLab.Plugin("ADD", net1, "keep", ns).Status);
        Assert.Equal(0, CniLab.Plugin("ADD", net1, "leak", nsB).Status);
        Assert.Equal(0, CniLab.Plugin("ADD", net2, "other", nsB, ifName: "net2").Status);
        string leaked = Assert.Single(lab.Endpoints("net1"), e => e.GetProperty("mvtap").GetProperty("cni").GetProperty("container_id").GetString() == "leak")
            .GetProperty("ifname").GetString()!;
        lab.Daemon.Restart();

        var gc = CniLab.Plugin("GC", Json.WithValidAttachments(Json.With(net1, "cniVersion", "\"1.1.0\""), ("keep", "eth0")), ifName: null);
        Assert.True(gc.Status == 0, gc.ToString());
        var left = lab.Endpoints("net1");
        Assert.Equal("keep", Assert.Single(left).GetProperty("mvtap").GetProperty("cni").GetProperty("container_id").GetString());
        Assert.Single(lab.Endpoints("net2"));
        Assert.DoesNotContain(leaked, lab.Daemon.MustCli("link", "show"));
        // host-local (spec 1.0.0) knows no GC: the plugin released the leaked attachment's address with DEL
        var held = Directory.GetFiles(Path.Combine(lab.IpamDir, "net1")).Where(f => Path.GetFileName(f).StartsWith(CniLab.Subnet)).ToList();
        Assert.Single(held);
        Assert.Equal("keep", File.ReadAllLines(held[0])[0]);
    }

    [Fact]
    public void Check_fails_when_the_nic_no_longer_carries_what_prevResult_says()
    {
        using var lab = new CniLab();
        string conf = lab.Conf("1.0.0", "net1");
        string netns = lab.NewContainerNamespace("a"), ns = Path.GetFileName(netns);
        var add = CniLab.Plugin("ADD", conf, "ca", netns);
        Assert.True(add.Status == 0, add.ToString());
        string withPrev = Json.With(conf, "prevResult", add.Stdout);
        Assert.Equal(0, CniLab.Plugin("CHECK", withPrev, "ca", netns).Status);

        string address = add.Json.GetProperty("ips")[0].GetProperty("address").GetString()!;
        Sh.Ip("-n", ns, "addr", "del", address, "dev", "eth0");
        var check = CniLab.Plugin("CHECK", withPrev, "ca", netns);
        Assert.Equal(100, check.ErrorCode);
        Assert.Contains(address, check.Json.GetProperty("msg").GetString());

        Sh.Ip("-n", ns, "addr", "add", address, "dev", "eth0");
        Sh.Ip("-n", ns, "link", "set", "eth0", "address", "02:11:22:33:44:55");
        Assert.True(TestNet.Eventually(() => CniLab.Plugin("CHECK", withPrev, "ca", netns).ErrorCode == 100, TimeSpan.FromSeconds(30)),
            "CHECK passed with a MAC other than prevResult's");
        Assert.Equal(0, CniLab.Plugin("DEL", withPrev, "ca", netns).Status);
    }
}
