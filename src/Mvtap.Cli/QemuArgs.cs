// Builds the QEMU command-line fragment that attaches a guest NIC to a macvtap endpoint, with
// the endpoint's MAC filled in: vhost-user (needs shared guest memory, hence the memfd backend
// and NUMA node of the same size as -m), QEMU's -netdev stream, or a tap fd handed over by
// `mvtap run NAME -- qemu ...` as fd 3 (the seed's `-net tap,fd=3 3<>/dev/tapN`).
using System.Text;
using Mvtap.Control;

namespace Mvtap.Cli;

internal enum QemuAttachment { VhostUser, Stream, Tap }

internal static class QemuArgs
{
    public const string DefaultMemory = "1G";

    public static string Build(LinkView view, QemuAttachment attachment, string memory, string runDir)
    {
        string device = $"-device virtio-net-pci,netdev=net0,mac={view.Mac}";
        switch (attachment)
        {
            case QemuAttachment.VhostUser:
                string vhost = view.VhostUserPath ?? ControlPaths.VhostUserPath(runDir, view.Index);
                return $"-m {memory} -object memory-backend-memfd,id=mem,size={memory},share=on -numa node,memdev=mem "
                       + "-chardev " + ShellWord($"socket,id=chr0,path={QemuOptionValue(vhost)}")
                       + $" -netdev vhost-user,id=net0,chardev=chr0 {device}";
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
