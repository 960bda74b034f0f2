// Builds the QEMU command-line fragment that attaches a guest NIC to a macvtap endpoint, with
// the endpoint's MAC filled in: vhost-user (needs shared guest memory, hence the memfd backend
// and NUMA node of the same size as -m), QEMU's -netdev stream, or a tap fd handed over by
// `mvtap run NAME -- qemu ...` as fd 3 (the seed's `-net tap,fd=3 3<>/dev/tapN`).
// For an endpoint that dials (vhost-user connect) the chardev listens: server=on,wait=off.
// Under TCG (no KVM) the vhost-user device gets vectors=0: QEMU 7.2 segfaults starting a
// vhost-user virtio-net-pci with MSI-X under TCG (msix_set_vector_notifiers from
// vhost_net_start, spec hypervisor-attachment.md section 7); legacy interrupts avoid it.
using System.Text;
using Mvtap.Control;

namespace Mvtap.Cli;

internal enum QemuAttachment { VhostUser, Stream, Tap }

/// <summary>How the guest will run: KVM, or TCG (QEMU's emulator, where /dev/kvm is missing).</summary>
internal enum QemuAccel { Kvm, Tcg }

internal static class QemuArgs
{
    public const string DefaultMemory = "1G";

    /// <summary>Why <see cref="Build"/> added vectors=0, for the user (stderr).</summary>
    public const string TcgVectorsNote =
        "# vectors=0: QEMU will run under TCG (no /dev/kvm), where QEMU 7.2 crashes starting a vhost-user " +
        "virtio-net-pci with MSI-X; legacy interrupts avoid it (leave it out under KVM)";

    /// <summary>What KVM-or-TCG to assume when not told: TCG if this machine has no /dev/kvm.</summary>
    public static QemuAccel DetectAccel() => File.Exists("/dev/kvm") ? QemuAccel.Kvm : QemuAccel.Tcg;

    public static string Build(LinkView view, QemuAttachment attachment, string memory, string runDir, QemuAccel accel = QemuAccel.Kvm)
    {
        string device = $"-device virtio-net-pci,netdev=net0,mac={view.Mac}";
        switch (attachment)
        {
            case QemuAttachment.VhostUser:
                string vhost = view.VhostUserPath ?? ControlPaths.VhostUserPath(runDir, view.Index);
                return $"-m {memory} -object memory-backend-memfd,id=mem,size={memory},share=on -numa node,memdev=mem "
                       // an endpoint that dials (vhost-user connect): QEMU listens, and does not wait for mvtapd to boot
                       + "-chardev " + ShellWord($"socket,id=chr0,path={QemuOptionValue(vhost)}"
                           + (view.VhostUserMode == VhostUserModes.Connect ? ",server=on,wait=off" : ""))
                       + $" -netdev vhost-user,id=net0,chardev=chr0 {device}"
                       + (accel == QemuAccel.Tcg ? ",vectors=0" : "");
            case QemuAttachment.Stream:
                string stream = view.StreamPath ?? ControlPaths.StreamPath(runDir, view.Index);
                return "-netdev " + ShellWord($"stream,id=net0,server=off,addr.type=unix,addr.path={QemuOptionValue(stream)}")
                       + $" {device}";
            default:
                return $"-netdev tap,id=net0,fd=3 {device}";
        }
    }

    /// <summary>QEMU option values escape a comma by doubling it.</summary>
    private static string QemuOptionValue(string value) => value.Replace(",", ",,");

    /// <summary>Quotes for a POSIX shell when the fragment contains anything but plain characters.</summary>
    internal static string ShellWord(string word)
    {
        bool plain = word.All(ch => char.IsAsciiLetterOrDigit(ch) || "-_./=,:@+%".Contains(ch));
        if (plain) return word;
        var sb = new StringBuilder("'");
        foreach (char ch in word) sb.Append(ch == '\'' ? "'\\''" : ch.ToString());
        return sb.Append('\'').ToString();
    }
}
