// A real Linux guest on an mvtap macvtap endpoint through vhost-user (tapN.vhost): it pings the
// external host on the lower's segment, and two such guests obey bridge and vepa modes, as the
// kernel's macvtap does in KernelMacvtapGuestTests.
namespace Mvtap.Guest.Tests;

public class MvtapVhostUserGuestTests
{
    [Fact]
    public void A_guest_attached_through_vhost_user_pings_the_external_host()
    {
        Assert.True(TestHost.IsRoot, "the guest tests need root");
        using var lab = new GuestLab();
        using var daemon = new MvtapDaemon(lab);
        Scenarios.GuestPingsExternalHost(lab, MvtapAttachments.VhostUser(daemon));
    }

    [Fact]
    public void Two_guests_through_vhost_user_in_bridge_mode_ping_each_other()
    {
        Assert.True(TestHost.IsRoot, "the guest tests need root");
        using var lab = new GuestLab();
        using var daemon = new MvtapDaemon(lab);
        Scenarios.TwoGuests(lab, MvtapAttachments.VhostUser(daemon), "bridge");
    }

    [Fact]
    public void Two_guests_through_vhost_user_in_vepa_mode_do_not_ping_each_other_without_hairpin()
    {
        Assert.True(TestHost.IsRoot, "the guest tests need root");
        using var lab = new GuestLab();
        using var daemon = new MvtapDaemon(lab);
        Scenarios.TwoGuests(lab, MvtapAttachments.VhostUser(daemon), "vepa");
    }
}
