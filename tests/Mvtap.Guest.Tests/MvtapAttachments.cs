// The ways a guest attaches to an mvtap macvtap endpoint through mvtapd's attachment points,
// each as an Attach for the scenarios: the endpoint is made through mvtapd (`mvtap link add ...
// type macvtap`), then QEMU connects to <run-dir>/tapN.vhost (vhost-user, with the options
// `mvtap qemu` prints) or to <run-dir>/tapN.stream (-netdev stream).
using Mvtap.Guest.Tests.Guest;

namespace Mvtap.Guest.Tests;

internal static class MvtapAttachments
{
    public static Attach VhostUser(MvtapDaemon daemon) => (guest, mode, config) =>
    {
        int n = daemon.AddMacvtap($"mt{guest}", mode, config.Mac);
        daemon.WaitForFile(Path.Combine(daemon.RunDir, $"tap{n}.vhost"));
        // Exactly what a user is told to pass: `mvtap qemu` (accel tcg, as these guests always
        // run under TCG, whatever the machine has; it adds vectors=0 for that).
        var (status, fragment, err) = daemon.Cli("qemu", $"mt{guest}", "memory", "256M", "accel", "tcg");
        Assert.True(status == 0, err);
        var argv = GuestVm.QemuArgsWithFragment(GuestImage.Get(), config, GuestVm.ShellWords(fragment));
        return GuestVm.Start($"vhost-user-{guest}", argv);
    };

    public static Attach Stream(MvtapDaemon daemon) => (guest, mode, config) =>
    {
        int n = daemon.AddMacvtap($"mt{guest}", mode, config.Mac);
        // QEMU 7.2 connects once and never retries: the socket must be listening first.
        var path = daemon.WaitForFile(Path.Combine(daemon.RunDir, $"tap{n}.stream"));
        var argv = GuestVm.QemuArgs(GuestImage.Get(), config,
            ["-netdev", $"stream,id=n0,server=off,addr.type=unix,addr.path={path}"], sharedMemory: false);
        return GuestVm.Start($"stream-{guest}", argv);
    };
}
