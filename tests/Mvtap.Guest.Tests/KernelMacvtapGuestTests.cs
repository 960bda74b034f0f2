// The harness proven with the kernel itself: a real guest on the kernel's macvtap, attached the
// seed's way (`-netdev tap,fd=3 3<>/dev/tapN`), pings the external host, and two guests behave
// as bridge and vepa modes say. The mvtap tests run the same scenarios.
using Mvtap.Guest.Tests.Guest;

namespace Mvtap.Guest.Tests;

public class KernelMacvtapGuestTests
{
    private static Attach Kernel(GuestLab lab) => (guest, mode, config) =>
    {
        var node = KernelMacvtap.Create(lab, $"kv{guest}", mode, config.Mac);
        var argv = GuestVm.QemuArgs(GuestImage.Get(), config, ["-netdev", "tap,id=n0,fd=3"], sharedMemory: false);
        return GuestVm.StartWithFd3($"kernel-{guest}", node, argv);
    };

    [Fact]
    public void A_guest_on_a_kernel_macvtap_pings_the_external_host()
    {
        Assert.True(TestHost.IsRoot, "the guest tests need root");
        using var lab = new GuestLab();
        Scenarios.GuestPingsExternalHost(lab, Kernel(lab));
    }

    [Fact]
    public void Two_guests_on_kernel_macvtaps_in_bridge_mode_ping_each_other()
    {
        Assert.True(TestHost.IsRoot, "the guest tests need root");
        using var lab = new GuestLab();
        Scenarios.TwoGuests(lab, Kernel(lab), "bridge");
    }

    [Fact]
    public void Two_guests_on_kernel_macvtaps_in_vepa_mode_do_not_ping_each_other_without_hairpin()
    {
        Assert.True(TestHost.IsRoot, "the guest tests need root");
        using var lab = new GuestLab();
        Scenarios.TwoGuests(lab, Kernel(lab), "vepa");
    }
}
