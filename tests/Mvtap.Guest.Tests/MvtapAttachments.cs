// The ways a guest attaches to an mvtap macvtap endpoint through mvtapd's attachment points,
// each as an Attach for the scenarios: the endpoint is made through mvtapd (`mvtap link add ...
// type macvtap`), then QEMU connects to <run-dir>/tapN.vhost (vhost-user) or to
// <run-dir>/tapN.stream (-netdev stream).
using Mvtap.Guest.Tests.Guest;

namespace Mvtap.Guest.Tests;

internal static class MvtapAttachments
{
    public static Attach VhostUser(MvtapDaemon daemon) => (guest, mode, config) =>
    {
        int n = daemon.AddMacvtap($"mt{guest}", mode, config.Mac);
        var path = daemon.WaitForFile(Path.Combine(daemon.RunDir, $"tap{n}.vhost"));
        var argv = GuestVm.QemuArgs(GuestImage.Get(), config,
            ["-chardev", $"socket,id=c0,path={path}", "-netdev", "vhost-user,id=n0,chardev=c0"],
            // vectors=0: QEMU 7.2 under TCG segfaults starting vhost-user with MSI-X
            // (hypervisor-attachment.md section 7); legacy interrupts avoid it.
            sharedMemory: true, deviceExtra: ",vectors=0");
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
