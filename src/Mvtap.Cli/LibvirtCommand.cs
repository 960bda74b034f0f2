// `mvtap libvirt { DEVICE | dev DEVICE } [ queues N ] [ reconnect SECONDS ] [ accel kvm|tcg ]`:
// prints on stdout only the libvirt <interface type='vhostuser'> element for a macvtap endpoint,
// ready to paste into a domain's <devices>: its MAC, mvtapd's socket with mode='client' (QEMU
// connects; mvtapd listens) and <reconnect> so QEMU dials again after mvtapd restarts, or, for an
// endpoint made with `vhost-user connect PATH`, PATH with mode='server' (QEMU listens and mvtapd
// dials, again after each drop; libvirt takes no <reconnect> there), a virtio model and the queue pairs (one under TCG, see Run). What the domain needs besides (shared memfd memory; under TCG the
// vectors=0 workaround) goes to stderr, so `mvtap libvirt m0 > nic.xml` keeps the element alone.
using System.Security;
using System.Text;
using Mvtap.Control;

namespace Mvtap.Cli;

internal sealed record LibvirtRequest(string Name, int? Queues, int Reconnect, QemuAccel? Accel, bool Help = false);

internal static class LibvirtCommand
{
    public const int DefaultReconnectSeconds = 2;

    public const string Usage =
        "Usage: mvtap libvirt { DEVICE | dev DEVICE } [ queues N ] [ reconnect SECONDS ] [ accel { kvm | tcg } ]\n" +
        "       prints the libvirt <interface type='vhostuser'> element that attaches a domain to the macvtap\n" +
        "       endpoint DEVICE (QEMU connects to mvtapd's socket, mode='client'; for an endpoint made with\n" +
        "       vhost-user connect PATH, QEMU listens on PATH and mvtapd dials it, mode='server'); reconnect: seconds\n" +
        "       between QEMU's attempts to connect again after mvtapd restarts (mode='client' only; default 2;\n" +
        "       0 leaves <reconnect> out);\n" +
        "       queues: queue pairs (default: what mvtapd offers; 1 under TCG). What the domain needs besides goes to stderr.\n";

    public static LibvirtRequest Parse(IReadOnlyList<string> words)
    {
        string? dev = null;
        int? queues = null, reconnect = null;
        QemuAccel? accel = null;
        var c = new ArgumentCursor(words);
        for (; !c.AtEnd; c.Advance())
        {
            string w = c.Current;
            if (Keyword.Matches(w, "queues"))
            {
                string v = c.NextArg();
                if (queues is not null) throw UsageErrors.Duplicate("queues", v);
                queues = ArgumentValues.TryParseInt32(v, out int q) && q is >= 1 and <= 256 ? q
                    : throw UsageErrors.InvalidArgument(v, "Invalid \"queues\" value (1-256)");
            }
            else if (Keyword.Matches(w, "reconnect"))
            {
                string v = c.NextArg();
                if (reconnect is not null) throw UsageErrors.Duplicate("reconnect", v);
                reconnect = ArgumentValues.TryParseInt32(v, out int s) && s is >= 0 and <= 3600 ? s
                    : throw UsageErrors.InvalidArgument(v, "Invalid \"reconnect\" value (seconds, 0-3600)");
            }
            else if (Keyword.Matches(w, "accel"))
            {
                string v = c.NextArg();
                if (accel is not null) throw UsageErrors.Duplicate("accel", v);
                accel = v == "kvm" ? QemuAccel.Kvm : v == "tcg" ? QemuAccel.Tcg
                    : throw UsageErrors.InvalidArgument(v, "Invalid \"accel\" value (kvm or tcg)");
            }
            else if (Keyword.Matches(w, "help")) return new LibvirtRequest("", null, 0, null, Help: true);
            else
            {
                string v = w == "dev" ? c.NextArg() : w;
                if (dev is not null) throw UsageErrors.DuplicateOrGarbage("dev", v);
                dev = ArgumentValues.ParseInterfaceName(v, "dev", naming: false);
            }
        }
        if (dev is null) throw UsageErrors.Required("dev");
        return new LibvirtRequest(dev, queues, reconnect ?? DefaultReconnectSeconds, accel);
    }

    public static int Run(LibvirtRequest request, ILinkBackend backend, string runDir, TextWriter stdout, TextWriter stderr)
    {
        if (QemuCommand.MacvtapEndpoint(backend, request.Name, "a domain", stderr) is not { } view) return LinkOperationException.ExitStatus;
        var accel = request.Accel ?? QemuArgs.DetectAccel();
        // libvirt gives a multiqueue NIC vectors=2N+2 on its -device, which the TCG workaround's
        // -global vectors=0 cannot override: one queue pair under TCG unless asked otherwise
        int? queues = request.Queues ?? (accel == QemuAccel.Tcg ? 1 : null);
        stdout.Write(Element(view, runDir, queues, request.Reconnect));
        stderr.Write(DomainNotes(view, accel));
        if (accel == QemuAccel.Tcg && queues > 1)
            stderr.WriteLine($"<!-- queues {queues} under TCG: libvirt sets vectors={2 * queues + 2} on the device, and QEMU 7.2 may crash with MSI-X -->");
        return 0;
    }

    public static string Element(LinkView view, string runDir, int? queues, int reconnectSeconds)
    {
        string path = view.VhostUserPath ?? ControlPaths.VhostUserPath(runDir, view.Index);
        int q = queues ?? (view.VhostUserQueuePairs > 0 ? view.VhostUserQueuePairs : 1);
        var sb = new StringBuilder();
        sb.Append("<interface type='vhostuser'>\n");
        sb.Append($"  <mac address='{view.Mac}'/>\n");
        if (view.VhostUserMode == VhostUserModes.Connect)
            // QEMU listens and mvtapd dials it again by itself: libvirt 9.0 refuses <reconnect> with mode='server'
            sb.Append($"  <source type='unix' path='{Attribute(path)}' mode='server'/>\n");
        else if (reconnectSeconds > 0)
        {
            sb.Append($"  <source type='unix' path='{Attribute(path)}' mode='client'>\n");
            sb.Append($"    <reconnect enabled='yes' timeout='{reconnectSeconds}'/>\n");
            sb.Append("  </source>\n");
        }
        else sb.Append($"  <source type='unix' path='{Attribute(path)}' mode='client'/>\n");
        sb.Append("  <model type='virtio'/>\n");
        if (q > 1) sb.Append($"  <driver queues='{q}'/>\n");
        sb.Append("</interface>\n");
        return sb.ToString();
    }

    public static string DomainNotes(LinkView view, QemuAccel accel)
    {
        var sb = new StringBuilder();
        sb.Append("<!-- the domain's guest memory must be shared with mvtapd (inside <domain>):\n");
        sb.Append("  <memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking> -->\n");
        if (accel == QemuAccel.Tcg)
        {
            sb.Append("<!-- under TCG (no /dev/kvm) QEMU 7.2 crashes starting a vhost-user virtio-net-pci with MSI-X; add to <domain\n");
            sb.Append("  xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>:\n");
            sb.Append("  <qemu:commandline><qemu:arg value='-global'/><qemu:arg value='virtio-net-pci.vectors=0'/></qemu:commandline>\n");
            sb.Append("  and keep <features><acpi/></features>: the legacy interrupt is routed through ACPI -->\n");
        }
        if (view.VhostUserMode == VhostUserModes.Connect)
            sb.Append(view.Owner is null
                ? $"<!-- QEMU creates {view.VhostUserPath} and mvtapd dials it; with no owner on {view.Name} mvtapd serves only a QEMU that runs as root: give it owner libvirt-qemu (as root: mvtap link set {view.Name} owner libvirt-qemu) if QEMU runs as that user -->\n"
                : $"<!-- QEMU creates {view.VhostUserPath} and mvtapd dials it; mvtapd serves it only when QEMU runs as {view.Owner}, {view.Name}'s owner -->\n");
        else if (view.Owner is null && view.Group is null)
            sb.Append($"<!-- the socket belongs to root: give {view.Name} owner/group libvirt-qemu (mvtap link set {view.Name} owner libvirt-qemu) so QEMU may connect -->\n");
        return sb.ToString();
    }

    // An XML attribute in single quotes.
    private static string Attribute(string value) => SecurityElement.Escape(value);
}
