// `mvtap qemu [dev] NAME [vhost-user|stream|tap] [memory SIZE] [accel kvm|tcg]`: looks the endpoint
// up and prints the QEMU fragment for it on stdout (so `qemu-system-x86_64 ... $(mvtap qemu m0)`
// works), and notes on stderr anything the user should know about it.
using Mvtap.Control;

namespace Mvtap.Cli;

/// <param name="Accel">null: decided by this machine (TCG without /dev/kvm).</param>
internal sealed record QemuRequest(string Name, QemuAttachment Attachment, string Memory, bool Help = false, QemuAccel? Accel = null);

internal static class QemuCommand
{
    public const string Usage =
        "Usage: mvtap qemu { DEVICE | dev DEVICE } [ vhost-user | stream | tap ] [ memory SIZE ] [ accel { kvm | tcg } ]\n" +
        "       prints the QEMU options that attach a virtio-net NIC to the macvtap endpoint DEVICE:\n" +
        "       vhost-user (default; SIZE, default " + QemuArgs.DefaultMemory + ", must be the guest's -m),\n" +
        "       stream (QEMU -netdev stream), or tap (run QEMU as: mvtap run DEVICE -- qemu ... FRAGMENT).\n" +
        "       accel: how QEMU will run the guest (default: tcg if this machine has no /dev/kvm, else kvm);\n" +
        "       under tcg the vhost-user device gets vectors=0 (QEMU 7.2 crashes with MSI-X there).\n";

    public static QemuRequest Parse(IReadOnlyList<string> words)
    {
        string? dev = null, memory = null;
        QemuAttachment? attachment = null;
        QemuAccel? accel = null;
        var c = new ArgumentCursor(words);
        for (; !c.AtEnd; c.Advance())
        {
            string w = c.Current;
            QemuAttachment? kind = Keyword.Matches(w, "vhost-user") ? QemuAttachment.VhostUser
                : Keyword.Matches(w, "stream") ? QemuAttachment.Stream
                : Keyword.Matches(w, "tap") ? QemuAttachment.Tap
                : null;
            if (kind is not null)
            {
                if (attachment is not null) throw UsageErrors.Duplicate("attachment", w);
                attachment = kind;
            }
            else if (Keyword.Matches(w, "memory"))
            {
                string v = c.NextArg();
                if (memory is not null) throw UsageErrors.Duplicate("memory", v);
                if (!IsMemorySize(v)) throw UsageErrors.InvalidArgument(v, "Invalid \"memory\" size (like 512M or 4G)");
                memory = v;
            }
            else if (Keyword.Matches(w, "accel"))
            {
                string v = c.NextArg();
                if (accel is not null) throw UsageErrors.Duplicate("accel", v);
                accel = v == "kvm" ? QemuAccel.Kvm : v == "tcg" ? QemuAccel.Tcg
                    : throw UsageErrors.InvalidArgument(v, "Invalid \"accel\" value (kvm or tcg)");
            }
            else if (Keyword.Matches(w, "help")) return new QemuRequest("", QemuAttachment.VhostUser, "", Help: true);
            else
            {
                string v = w == "dev" ? c.NextArg() : w;
                if (dev is not null) throw UsageErrors.DuplicateOrGarbage("dev", v);
                dev = ArgumentValues.ParseInterfaceName(v, "dev", naming: false);
            }
        }
        if (dev is null) throw UsageErrors.Required("dev");
        return new QemuRequest(dev, attachment ?? QemuAttachment.VhostUser, memory ?? QemuArgs.DefaultMemory, Accel: accel);
    }

    public static int Run(QemuRequest request, ILinkBackend backend, string runDir, TextWriter stdout, TextWriter stderr)
    {
        if (MacvtapEndpoint(backend, request.Name, "QEMU", stderr) is not { } view) return LinkOperationException.ExitStatus;
        var accel = request.Accel ?? QemuArgs.DetectAccel();
        stdout.WriteLine(QemuArgs.Build(view, request.Attachment, request.Memory, runDir, accel));
        if (request.Attachment == QemuAttachment.VhostUser && accel == QemuAccel.Tcg) stderr.WriteLine(QemuArgs.TcgVectorsNote);
        if (request.Attachment == QemuAttachment.Tap)
            stderr.WriteLine($"# the tap fd is handed over as fd 3: run QEMU as `mvtap run {view.Name} -- qemu-system-x86_64 ... <the options above>`");
        return 0;
    }

    /// <summary>The macvtap endpoint NAME, or null after saying on stderr, as ip would, why there is none
    /// (no such device, or one that is not a macvtap endpoint and so attaches to no <paramref name="hypervisor"/>).</summary>
    internal static LinkView? MacvtapEndpoint(ILinkBackend backend, string name, string hypervisor, TextWriter stderr)
    {
        var view = backend.Show(new LinkShowRequest { Name = name }).FirstOrDefault(v => v.Name == name);
        if (view is null) stderr.WriteLine($"Device \"{name}\" does not exist.");
        else if (view.Type != "macvtap")
            stderr.WriteLine($"Error: {view.Name} is a {view.Type} link, not a macvtap endpoint; only macvtap endpoints attach to {hypervisor}.");
        else return view;
        return null;
    }

    private static bool IsMemorySize(string s) =>
        s.Length > 0 && char.IsAsciiDigit(s[0]) &&
        s.TrimEnd('k', 'K', 'm', 'M', 'g', 'G', 't', 'T').All(char.IsAsciiDigit) &&
        s.Length - s.TrimEnd('k', 'K', 'm', 'M', 'g', 'G', 't', 'T').Length <= 1;
}
