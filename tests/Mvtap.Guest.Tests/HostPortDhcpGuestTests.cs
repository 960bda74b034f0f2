// DHCP from the host to a QEMU guest (issue 14): dnsmasq listening on the host port mvhost0 in
// mvtapd's namespace (the host's) hands an address to a TCG guest on a vepa macvtap endpoint
// attached through vhost-user, and the guest and the host then ping each other. The lower sits on
// a switch port without hairpin and nothing on the segment serves DHCP, so with the kernel's
// macvtap this guest could never hear the host: the lease, and every frame after it, can only have
// crossed the host port. One guest boot.
using System.Net;
using Mvtap.Guest.Tests.Guest;

namespace Mvtap.Guest.Tests;

public class HostPortDhcpGuestTests
{
    private const string HostAddress = GuestLab.Subnet + ".1";

    [Fact]
    public void Dnsmasq_on_the_host_port_gives_a_vepa_vhost_user_guest_its_address_and_guest_and_host_ping_each_other()
    {
        Assert.True(TestHost.IsRoot, "the guest tests need root");
        using var lab = new GuestLab();
        using var daemon = new MvtapDaemon(lab);
        HostPortSetup.Add(daemon, lab.Host, GuestLab.Lower, HostAddress + "/24");
        using var dnsmasq = new DnsmasqServer(lab.Host, HostPortSetup.Name, $"{GuestLab.Subnet}.50", $"{GuestLab.Subnet}.59", lab.Dir);

        var config = GuestConfig.Dhcp(lab.GuestMac(0), [HostAddress], serve: true);
        using var vm = MvtapAttachments.VhostUser(daemon)(0, "vepa", config);
        Assert.Equal($"MVTAP-UP {config.Mac}", vm.WaitFor("MVTAP-UP", GuestVm.BootWait));

        // the address came from dnsmasq's range, and dnsmasq leased it to this guest's MAC
        string lease = vm.WaitFor("MVTAP-LEASE", GuestVm.BootWait)["MVTAP-LEASE ".Length..];
        Assert.True(dnsmasq.InRange(IPAddress.Parse(lease)), $"the guest's lease {lease} is not from dnsmasq's range\n{vm.Output}");
        // (dnsmasq writes the file and its log line as it acknowledges; both are read as they come)
        Assert.True(TestNet.Eventually(() => dnsmasq.LeasedTo(config.Mac) == lease
                && dnsmasq.Log.Contains($"DHCPACK({HostPortSetup.Name}) {lease} {config.Mac}", StringComparison.Ordinal), TimeSpan.FromSeconds(30)),
            $"dnsmasq's lease file and log do not give {lease} to {config.Mac} on {HostPortSetup.Name}:\n{dnsmasq.Log}");

        Assert.True(vm.PingResult(HostAddress, Scenarios.PingWait(config.Tries)), $"the guest with its DHCP address does not reach the host:\n{vm.Output}\n{daemon.Output}");
        // the guest serves now (MVTAP-WAIT); a few echo requests, each waiting for a slow TCG reply
        bool reached = false;
        for (int i = 0; i < 10 && !reached; i++)
            reached = Sh.Try("ip", "netns", "exec", lab.Host, "ping", "-c", "1", "-W", "2", "-q", lease).Status == 0;
        Assert.True(reached, $"the host does not reach the guest at its DHCP address {lease}:\n{vm.Output}\n{daemon.Output}");
    }
}
