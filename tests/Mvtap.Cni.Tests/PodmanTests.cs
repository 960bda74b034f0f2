// podman 4.3 running containers on an mvtap network through the plugin, and the same scenario on
// the reference macvlan plugin to prove the harness: two containers in bridge mode reach each
// other and the external host, `podman restart` keeps them reachable, `podman rm` removes the
// endpoint and releases the address. With mvtap also: mvtapd restarted under running containers
// (traffic resumes, a later rm still removes the endpoint), STATUS 50 while mvtapd is down, and
// GC removing a leaked endpoint while the containers' stay.
namespace Mvtap.Cni.Tests;

[Collection(PluginCollection.Name)]
public sealed class PodmanTests
{
    [Theory]
    [InlineData("mvtap")]
    [InlineData("macvlan")]
    public void Containers_on_the_network_reach_each_other_and_the_external_host_through_restart_and_rm(string plugin)
    {
        using var lab = new CniLab(lowerInHost: true, startDaemon: plugin == "mvtap");
        bool mvtap = plugin == "mvtap";
        string conf = mvtap ? lab.Conf("1.0.0", "mvnet")
            : $"{{\"type\":\"macvlan\",\"master\":\"{lab.Lower}\",\"mode\":\"bridge\",\"ipam\":{{\"type\":\"host-local\",\"subnet\":\"{CniLab.Subnet}.0/24\",\"rangeStart\":\"{CniLab.Subnet}.10\",\"dataDir\":\"{lab.IpamDir}\"}}}}";
        using var podman = new Podman(lab.Prefix, mvtap ? InstalledPlugin.Directory : "/usr/lib/cni");
        podman.AddNetwork("mvnet", conf);
        string a = $"{lab.Prefix}a", b = $"{lab.Prefix}b";
        string idA = podman.Run(a, "mvnet"), idB = podman.Run(b, "mvnet");
        if (mvtap) Assert.Equal(2, lab.Endpoints("mvnet").Count);

        AssertConnected(podman, a, b);
        podman.Restart(a);
        AssertConnected(podman, a, b);

        if (mvtap)
        {
            lab.Daemon.Restart();
            AssertConnected(podman, a, b);

            string status = lab.Conf("1.1.0", "mvnet");
            Assert.Equal(0, CniLab.Plugin("STATUS", status).Status);
            lab.Daemon.Stop();
            Assert.Equal(50, CniLab.Plugin("STATUS", status).ErrorCode);
            lab.Daemon.StartAndWait();

            // an attachment whose DEL never came: GC with podman's containers as the valid ones removes it
            string leakNs = lab.NewContainerNamespace("leak");
            Assert.Equal(0, CniLab.Plugin("ADD", conf, "leaked", leakNs).Status);
            Assert.Equal(3, lab.Endpoints("mvnet").Count);
            var gc = CniLab.Plugin("GC", Json.WithValidAttachments(status, (idA, "eth0"), (idB, "eth0")));
            Assert.True(gc.Status == 0, gc.ToString());
            Assert.Equal(new[] { idA, idB }.Order(), lab.Endpoints("mvnet").Select(e => e.GetProperty("mvtap").GetProperty("cni").GetProperty("container_id").GetString()!).Order());
            AssertConnected(podman, a, b);
        }

        podman.Remove(b);
        if (mvtap) Assert.Single(lab.Endpoints("mvnet"));
        podman.Remove(a);
        if (mvtap) Assert.Empty(lab.Endpoints("mvnet"));
        Assert.DoesNotContain(Directory.GetFiles(Path.Combine(lab.IpamDir, "mvnet")), f => Path.GetFileName(f).StartsWith(CniLab.Subnet));
    }

    private static void AssertConnected(Podman podman, string a, string b)
    {
        string addressA = podman.Address(a), addressB = podman.Address(b);
        Assert.True(podman.Ping(a, addressB), $"{a} does not reach {b} ({addressB})");
        Assert.True(podman.Ping(b, addressA), $"{b} does not reach {a} ({addressA})");
        Assert.True(podman.Ping(a, CniLab.ExternalAddress), $"{a} does not reach the external host");
        Assert.True(podman.Ping(b, CniLab.ExternalAddress), $"{b} does not reach the external host");
    }
}
