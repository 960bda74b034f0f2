// KubeVirt's tap binding on an mvtap network (`"endpoint": "tap"`): ADD makes a persistent TAP
// named CNI_IFNAME in the pod's namespace, owned by owner/group (KubeVirt's qemu is 107:107), with
// the endpoint's MAC; a real QEMU guest (TCG) started in that namespace as uid 107 with
// `-netdev tap,ifname=…,script=no,downscript=no` pings the external host, and again after mvtapd
// restarted under it; CHECK passes; DEL removes the TAP, and is idempotent, also when the pod's
// namespace is gone. The pod's owner deleting the TAP gets it made again.
using System.Text.Json;
using Mvtap.Guest.Tests.Guest;

namespace Mvtap.Cni.Tests;

[Collection(PluginCollection.Name)]
public sealed class KubevirtTapCniTests
{
    private const string IfName = "net1";
    private const string Qemu = "107";

    private static string TapConf(CniLab lab) =>
        lab.Conf("1.0.0", "vmtap", $",\"endpoint\":\"tap\",\"owner\":\"{Qemu}\",\"group\":\"{Qemu}\"", ipam: false);

    [Fact]
    public void A_qemu_guest_on_the_pods_tap_pings_the_external_host_also_after_mvtapd_restarts_and_DEL_removes_the_tap()
    {
        Assert.True(TestHost.IsRoot, "the guest needs root to set up");
        using var lab = new CniLab();
        string netnsPath = lab.NewContainerNamespace("launcher"), netns = Path.GetFileName(netnsPath);
        string conf = TapConf(lab);
        var add = CniLab.Plugin("ADD", conf, "vm1", netnsPath, ifName: IfName);
        Assert.True(add.Status == 0, add.ToString());
        Assert.Empty(CniSchema.AddResult(add.Json, "1.0.0"));
        string mac = add.Json.GetProperty("interfaces")[0].GetProperty("mac").GetString()!;
        string tap = TestNet.Ip("-n", netns, "-d", "link", "show", IfName);
        Assert.Contains("tun type tap pi off vnet_hdr on persist on user 107", tap);
        Assert.Contains($"link/ether {mac}", tap);
        Assert.Equal("no-guest", TapState(lab));
        var check = CniLab.Plugin("CHECK", Json.With(conf, "prevResult", add.Stdout), "vm1", netnsPath, ifName: IfName);
        Assert.True(check.Status == 0, check.ToString());

        var config = new GuestConfig($"{CniLab.Subnet}.31", mac, [CniLab.ExternalAddress], 30, Serve: true);
        var qemu = GuestVm.QemuArgs(GuestImage.Get(), config, ["-netdev", $"tap,id=n0,ifname={IfName},script=no,downscript=no"], sharedMemory: false);
        // as virt-launcher runs it: in the pod's namespace, as qemu (107:107), without privileges
        using (var vm = GuestVm.Start("kubevirt-tap",
                   ["ip", "netns", "exec", netns, "setpriv", $"--reuid={Qemu}", $"--regid={Qemu}", "--clear-groups", .. qemu]))
        {
            Assert.Equal($"MVTAP-UP {mac}", vm.WaitFor("MVTAP-UP", GuestVm.BootWait));
            Assert.True(vm.PingResult(CniLab.ExternalAddress, GuestVm.BootWait), $"the guest could not ping the external host:\n{vm.Output}\nmvtapd:\n{lab.Daemon.Output}");
            Assert.Equal("guest", TapState(lab));

            lab.Daemon.Restart();
            Assert.True(vm.Ping(CniLab.ExternalAddress, 30), $"after mvtapd restarted:\n{vm.Output}\nmvtapd:\n{lab.Daemon.Output}");
            check = CniLab.Plugin("CHECK", Json.With(conf, "prevResult", add.Stdout), "vm1", netnsPath, ifName: IfName);
            Assert.True(check.Status == 0, check.ToString());
        }

        var del = CniLab.Plugin("DEL", conf, "vm1", netnsPath, ifName: IfName);
        Assert.True(del.Status == 0, del.ToString());
        Assert.Empty(lab.Endpoints("vmtap"));
        Assert.DoesNotContain(IfName, TestNet.Ip("-n", netns, "-br", "link"));
        del = CniLab.Plugin("DEL", conf, "vm1", netnsPath, ifName: IfName);
        Assert.True(del.Status == 0, del.ToString());
    }

    [Fact]
    public void The_tap_deleted_by_the_pods_owner_is_made_again_and_CHECK_still_passes()
    {
        using var lab = new CniLab();
        string netnsPath = lab.NewContainerNamespace("launcher"), netns = Path.GetFileName(netnsPath);
        string conf = TapConf(lab);
        var add = CniLab.Plugin("ADD", conf, "vm1", netnsPath, ifName: IfName);
        Assert.True(add.Status == 0, add.ToString());
        Sh.Ip("-n", netns, "link", "del", IfName);
        Assert.True(TestNet.Eventually(() => Sh.Try("ip", "-n", netns, "link", "show", IfName).Status == 0, TimeSpan.FromSeconds(30)),
            $"the tap was not made again:\n{lab.Daemon.Output}");
        Assert.Contains("was deleted in namespace", lab.Daemon.Output);
        var check = CniLab.Plugin("CHECK", Json.With(conf, "prevResult", add.Stdout), "vm1", netnsPath, ifName: IfName);
        Assert.True(check.Status == 0, check.ToString());
        // an interface of that name that is not ours is refused, not taken over
        var del = CniLab.Plugin("DEL", conf, "vm1", netnsPath, ifName: IfName);
        Assert.True(del.Status == 0, del.ToString());
        Sh.Ip("-n", netns, "link", "add", IfName, "type", "veth", "peer", "name", "peer1");
        var again = CniLab.Plugin("ADD", conf, "vm2", netnsPath, ifName: IfName);
        Assert.Equal(101, again.ErrorCode);
        Assert.Contains("exists already", again.Json.GetProperty("msg").GetString());
        Assert.Empty(lab.Endpoints("vmtap"));
    }

    [Fact]
    public void DEL_after_the_pods_namespace_is_gone_removes_the_endpoint_and_is_idempotent()
    {
        using var lab = new CniLab();
        string netnsPath = lab.NewContainerNamespace("launcher");
        string conf = TapConf(lab);
        var add = CniLab.Plugin("ADD", conf, "vm1", netnsPath, ifName: IfName);
        Assert.True(add.Status == 0, add.ToString());
        lab.DeleteNamespace(netnsPath);
        for (int i = 0; i < 2; i++)
        {
            var del = CniLab.Plugin("DEL", conf, "vm1", netnsPath, ifName: IfName);
            Assert.True(del.Status == 0, del.ToString());
        }
        Assert.Empty(lab.Endpoints("vmtap"));
    }

    private static string? TapState(CniLab lab)
    {
        var endpoint = Assert.Single(lab.Endpoints("vmtap"));
        return endpoint.GetProperty("mvtap").GetProperty("tap").GetProperty("state").GetString();
    }
}
