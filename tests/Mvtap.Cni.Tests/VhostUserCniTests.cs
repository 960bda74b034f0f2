// A vhost-user endpoint made through the plugin: its socket is placed in socketDir and returned
// as interfaces[].socketPath (spec 1.1.0), described in the device-info file the runtime asked
// for, and a real dpdk-testpmd (a virtio-user frontend in icmpecho mode, with guestMemory any
// since its memory cannot be sealed) connected to that path answers the external host's ARP and
// pings: frames cross in both directions. CHECK passes; DEL removes endpoint, socket and file.
using System.Text.Json;
using Mvtap.Daemon.Tests.Attachments;

namespace Mvtap.Cni.Tests;

[Collection(PluginCollection.Name)]
public sealed class VhostUserCniTests
{
    [Fact]
    public void Testpmd_on_the_returned_socket_path_exchanges_frames_with_the_external_host()
    {
        Assert.True(Testpmd.Available, $"{Testpmd.Binary} is missing (Debian dpdk-dev)");
        using var lab = new CniLab();
        string netns = lab.NewContainerNamespace("vm");
        // the spec's directory (the plugin writes nowhere else), a file name of this test's own
        string socketDir = Path.Combine(lab.Dir, "sockets"), devinfo = $"/run/k8s.cni.cncf.io/devinfo/cni/{lab.Prefix}-net1.json";
        string conf = lab.Conf("1.1.0", "vmnet",
            $",\"endpoint\":\"vhost-user\",\"guestMemory\":\"any\",\"socketDir\":\"{socketDir}\",\"runtimeConfig\":{{\"CNIDeviceInfoFile\":\"{devinfo}\"}}",
            ipam: false);

        var add = CniLab.Plugin("ADD", conf, "vm1", netns, ifName: "net1");
        Assert.True(add.Status == 0, add.ToString());
        Assert.Empty(CniSchema.AddResult(add.Json, "1.1.0"));
        var iface = add.Json.GetProperty("interfaces")[0];
        string socket = iface.GetProperty("socketPath").GetString()!, mac = iface.GetProperty("mac").GetString()!;
        Assert.Equal(socketDir, Path.GetDirectoryName(socket));
        Assert.True(File.Exists(socket), $"no socket at {socket}");
        using (var info = JsonDocument.Parse(File.ReadAllText(devinfo)))
        {
            var r = info.RootElement;
            Assert.Equal("vhost-user", r.GetProperty("type").GetString());
            Assert.Equal("1.1.0", r.GetProperty("version").GetString());
            Assert.Equal("client", r.GetProperty("vhost-user").GetProperty("mode").GetString());
            Assert.Equal(socket, r.GetProperty("vhost-user").GetProperty("path").GetString());
        }
        var check = CniLab.Plugin("CHECK", Json.With(conf, "prevResult", add.Stdout), "vm1", netns, ifName: "net1");
        Assert.True(check.Status == 0, check.ToString());

        using (var pmd = Testpmd.Start($"net_virtio_user0,path={socket},queues=1,mac={mac}", "icmpecho", lcore: 1))
        {
            pmd.WaitForStats(TimeSpan.FromSeconds(90));
            Assert.True(TestNet.Eventually(() => CniLab.Ping(lab.External, $"{CniLab.Subnet}.77", 1), TimeSpan.FromSeconds(60)),
                $"the external host got no answer from testpmd behind {socket}:\n{pmd.Output}\nmvtapd:\n{lab.Daemon.Output}");
            Assert.True(CniLab.Ping(lab.External, $"{CniLab.Subnet}.77"));
        }

        var del = CniLab.Plugin("DEL", conf, "vm1", netns, ifName: "net1");
        Assert.True(del.Status == 0, del.ToString());
        Assert.Empty(lab.Endpoints("vmnet"));
        Assert.False(File.Exists(socket), "the socket outlived its endpoint");
        Assert.False(File.Exists(devinfo), "the device-info file outlived DEL");
    }

    [Fact]
    public void A_device_info_file_outside_the_specs_directory_is_refused_and_nothing_is_written()
    {
        using var lab = new CniLab();
        string netns = lab.NewContainerNamespace("vm"), target = Path.Combine(lab.Dir, "victim");
        File.WriteAllText(target, "precious");
        var add = CniLab.Plugin("ADD", lab.Conf("1.1.0", "vmnet",
            $",\"endpoint\":\"vhost-user\",\"socketDir\":\"{Path.Combine(lab.Dir, "s")}\",\"runtimeConfig\":{{\"CNIDeviceInfoFile\":\"{target}\"}}", ipam: false),
            "vm1", netns, ifName: "net1");
        Assert.Equal(7, add.ErrorCode);
        Assert.Equal("precious", File.ReadAllText(target));
        Assert.Empty(lab.Endpoints("vmnet"));
        var del = CniLab.Plugin("DEL", lab.Conf("1.1.0", "vmnet",
            $",\"endpoint\":\"vhost-user\",\"runtimeConfig\":{{\"CNIDeviceInfoFile\":\"{target}\"}}", ipam: false), "vm1", netns, ifName: "net1");
        Assert.True(del.Status == 0, del.ToString());
        Assert.Equal("precious", File.ReadAllText(target));
    }

    [Fact]
    public void A_socket_directory_others_may_write_to_is_refused_and_nothing_is_left()
    {
        using var lab = new CniLab();
        string netns = lab.NewContainerNamespace("vm");
        string socketDir = Path.Combine(lab.Dir, "open");
        Directory.CreateDirectory(socketDir);
        File.SetUnixFileMode(socketDir, (UnixFileMode)0x1ff); // 0777: anyone could swap the socket for a symlink
        var add = CniLab.Plugin("ADD", lab.Conf("1.1.0", "vmnet", $",\"endpoint\":\"vhost-user\",\"socketDir\":\"{socketDir}\"", ipam: false),
            "vm1", netns, ifName: "net1");
        Assert.Equal(101, add.ErrorCode);
        Assert.Contains("writable by nobody else", add.Json.GetProperty("msg").GetString());
        Assert.Empty(lab.Endpoints("vmnet"));
        Assert.Empty(Directory.GetFileSystemEntries(socketDir));
    }
}
