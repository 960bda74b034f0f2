// A real Linux guest on an mvtap macvtap endpoint through QEMU's -netdev stream (tapN.stream)
// pings the external host on the lower's segment, and reaches a vhost-user guest on the same
// lower in bridge mode: frames cross between the two kinds of attachment.
namespace Mvtap.Guest.Tests;

public class MvtapStreamGuestTests
{
    [Fact]
    public void A_guest_attached_through_stream_pings_the_external_host()
    {
        Assert.True(TestHost.IsRoot, "the guest tests need root");
        using var lab = new GuestLab();
        using var daemon = new MvtapDaemon(lab);
        Scenarios.GuestPingsExternalHost(lab, MvtapAttachments.Stream(daemon));
    }

    [Fact]
    public void A_vhost_user_guest_and_a_stream_guest_in_bridge_mode_ping_each_other()
    {
        Assert.True(TestHost.IsRoot, "the guest tests need root");
        using var lab = new GuestLab();
        using var daemon = new MvtapDaemon(lab);
        Attach vhostUser = MvtapAttachments.VhostUser(daemon), stream = MvtapAttachments.Stream(daemon);
        Scenarios.TwoGuests(lab, (guest, mode, config) => (guest == 0 ? vhostUser : stream)(guest, mode, config), "bridge");
    }
}
