// A libvirt 9.0 domain on an mvtap macvtap endpoint, its NIC exactly what `mvtap libvirt`
// printed (vhost-user, mode='client' with <reconnect>): the guest pings the external host; after
// `virsh destroy` and `start` it pings again; with mvtapd killed and started again under the
// running guest, QEMU dials the socket again by itself and the guest pings again.
using Mvtap.Guest.Tests.Guest;

namespace Mvtap.Guest.Tests;

public sealed class LibvirtGuestTests
{
    private const int Tries = 30;

    [Fact]
    public void A_domain_with_the_printed_interface_pings_through_restarts_of_itself_and_of_mvtapd()
    {
        Assert.True(TestHost.IsRoot, "the guest tests need root");
        using var lab = new GuestLab();
        // QEMU runs as libvirt-qemu: it must reach the socket through the run directory
        File.SetUnixFileMode(lab.Dir, (UnixFileMode)0x1ed); // 0755
        using var libvirt = new LibvirtDaemons();
        var daemon = new MvtapDaemon(lab);
        try
        {
            var config = new GuestConfig(GuestLab.GuestAddress(0), lab.GuestMac(0), [GuestLab.ExternalAddress], Tries, Serve: true);
            daemon.MustCli("link", "add", "link", GuestLab.Lower, "name", "lv0", "type", "macvtap", "mode", "bridge",
                "address", config.Mac, "owner", "libvirt-qemu");
            daemon.MustCli("link", "set", "lv0", "up");
            var (status, element, notes) = daemon.Cli("libvirt", "lv0", "accel", "tcg");
            Assert.True(status == 0, notes);
            Assert.StartsWith("<interface type='vhostuser'>", element);
            Assert.Contains("mode='client'", element);
            Assert.Contains("<reconnect enabled='yes'", element);
            Assert.Contains("memfd", notes);
            Assert.Contains("virtio-net-pci.vectors=0", notes);

            using var domain = new LibvirtDomain($"mvtap-{lab.Prefix}", lab.Dir, config, element);
            domain.Start();
            Assert.Equal($"MVTAP-UP {config.Mac}", domain.WaitFor("MVTAP-UP", GuestVm.BootWait));
            Assert.True(domain.WaitFor($"MVTAP-PING {GuestLab.ExternalAddress} ", GuestVm.BootWait + TimeSpan.FromSeconds(Tries * 2)).EndsWith(" OK"),
                $"the domain could not ping the external host:\n{domain.Console}\nmvtapd:\n{daemon.Output}");
            Assert.Equal(config.Mac, lab.ExternalNeighbour(config.Address));

            domain.Destroy();
            domain.Start();
            Assert.True(domain.WaitFor($"MVTAP-PING {GuestLab.ExternalAddress} ", GuestVm.BootWait + TimeSpan.FromSeconds(Tries * 2)).EndsWith(" OK"),
                $"after destroy and start the domain could not ping:\n{domain.Console}\nmvtapd:\n{daemon.Output}");

            // mvtapd goes (SIGKILL, the harshest restart) and comes back with its state under the running guest
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
