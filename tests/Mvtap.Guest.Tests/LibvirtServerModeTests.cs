// A libvirt 9.0 domain whose NIC is what `mvtap libvirt` printed for an endpoint made with
// `vhost-user connect PATH`: <source mode='server'/> without <reconnect> (libvirt refuses it
// there), so QEMU listens on PATH and mvtapd dials it. The guest pings the external host; after
// `virsh destroy` and `start` mvtapd dials the new QEMU by itself and the guest pings again; with
// mvtapd killed and started again under the running guest, it dials again and the guest pings.
using Mvtap.Guest.Tests.Guest;

namespace Mvtap.Guest.Tests;

public sealed class LibvirtServerModeTests
{
    private const int Tries = 30;

    [Fact]
    public void A_domain_listening_in_server_mode_is_dialled_by_mvtapd_through_restarts_of_either_side()
    {
        Assert.True(TestHost.IsRoot, "the guest tests need root");
        using var lab = new GuestLab();
        File.SetUnixFileMode(lab.Dir, (UnixFileMode)0x1ed); // 0755
        // QEMU (libvirt-qemu) and libvirtd create the socket in a directory of QEMU's user
        string sockets = Path.Combine(lab.Dir, "vhost");
        Directory.CreateDirectory(sockets);
        TestNet.Run("chown", "libvirt-qemu:libvirt-qemu", sockets);
        string path = Path.Combine(sockets, "lv1.sock");
        using var libvirt = new LibvirtDaemons();
        var daemon = new MvtapDaemon(lab);
        try
        {
            var config = new GuestConfig(GuestLab.GuestAddress(0), lab.GuestMac(0), [GuestLab.ExternalAddress], Tries, Serve: true);
            daemon.MustCli("link", "add", "link", GuestLab.Lower, "name", "lv1", "type", "macvtap", "mode", "bridge",
                "address", config.Mac, "owner", "libvirt-qemu", "vhost-user", "connect", path, "up");
            var (status, element, notes) = daemon.Cli("libvirt", "lv1", "accel", "tcg");
            Assert.True(status == 0, notes);
            Assert.Contains($"<source type='unix' path='{path}' mode='server'/>", element);
            Assert.DoesNotContain("reconnect", element);

            using var domain = new LibvirtDomain($"mvtap-s{lab.Prefix}", lab.Dir, config, element);
            domain.Start();
            Assert.Equal($"MVTAP-UP {config.Mac}", domain.WaitFor("MVTAP-UP", GuestVm.BootWait));
            Assert.True(domain.WaitFor($"MVTAP-PING {GuestLab.ExternalAddress} ", GuestVm.BootWait + TimeSpan.FromSeconds(Tries * 2)).EndsWith(" OK"),
                $"the domain could not ping the external host:\n{domain.Console}\nmvtapd:\n{daemon.Output}");
            Assert.Contains($"vhost-user connect {path} connected", daemon.MustCli("-d", "link", "show", "lv1"));

            domain.Destroy();
            domain.Start();
            Assert.True(domain.WaitFor($"MVTAP-PING {GuestLab.ExternalAddress} ", GuestVm.BootWait + TimeSpan.FromSeconds(Tries * 2)).EndsWith(" OK"),
                $"after destroy and start the domain could not ping:\n{domain.Console}\nmvtapd:\n{daemon.Output}");

            // mvtapd goes (SIGKILL) and comes back with its state under the running guest, and dials QEMU again
            daemon.Dispose();
            daemon = new MvtapDaemon(lab);
            Assert.True(domain.Ping(GuestLab.ExternalAddress, Tries),
                $"after mvtapd restarted the domain could not ping:\n{domain.Console}\nmvtapd:\n{daemon.Output}");
        }
        finally
        {
            daemon.Dispose();
        }
    }
}
