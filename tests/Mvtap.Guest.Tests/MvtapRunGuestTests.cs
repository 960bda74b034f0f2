// A real Linux guest started by `mvtap run NAME -- qemu ... -netdev tap,fd=3` (the tap relay:
// the seed's command line, unchanged, on an mvtap endpoint) pings the external host.
using Mvtap.Guest.Tests.Guest;

namespace Mvtap.Guest.Tests;

public class MvtapRunGuestTests
{
    // mvtap run gives QEMU the endpoint's tap queue as fd 3 and stays its parent; GuestVm kills
    // the whole process tree.
    private static Attach TapRelay(MvtapDaemon daemon) => (guest, mode, config) =>
    {
        var name = $"mt{guest}";
        daemon.AddMacvtap(name, mode, config.Mac);
        var qemu = GuestVm.QemuArgs(GuestImage.Get(), config, ["-netdev", "tap,id=n0,fd=3"], sharedMemory: false);
        return GuestVm.Start($"mvtap-run-{guest}",
            ["dotnet", Path.Combine(AppContext.BaseDirectory, "mvtap.dll"), "--run-dir", daemon.RunDir, "run", name, "--", .. qemu]);
    };

    [Fact]
    public void A_guest_started_by_mvtap_run_pings_the_external_host()
    {
        Assert.True(TestHost.IsRoot, "the guest tests need root");
        using var lab = new GuestLab();
        using var daemon = new MvtapDaemon(lab);
        Scenarios.GuestPingsExternalHost(lab, TapRelay(daemon));
    }
}
