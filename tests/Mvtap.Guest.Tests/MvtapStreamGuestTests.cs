// A real Linux guest on an mvtap macvtap endpoint through QEMU's -netdev stream (tapN.stream)
// pings the external host on the lower's segment.
namespace Mvtap.Guest.Tests;

public class MvtapStreamGuestTests
{
    [Fact]
    public void A_guest_attached_through_stream_pings_the_external_host()
    {
        Assert.True(Run.IsRoot, "the guest tests need root");
        using var lab = new GuestLab();
        using var daemon = new MvtapDaemon(lab);
        Scenarios.GuestPingsExternalHost(lab, MvtapAttachments.Stream(daemon));
    }
}
