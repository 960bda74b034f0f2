// `mvtap link show` text output in ip's layout: the index line, the link/ether line, with -d the
// promiscuity/mtu details and the macvlan line ("macvtap mode vepa bcqueuelen 1000 usedbcqueuelen
// 1000"), then mvtap's own settings, the persistent TAP that carries a macvtap and whether a guest
// holds it, a macvlan's interface's name where its container renamed it, the CNI attachment that
// made the endpoint, and the lower's
// state (present, moved, unreachable, gone) and its datapath thread's, with reasons; with -s ip's
// RX/TX table, then mvtap's drops by reason that are not zero, the endpoint's and its lower's, on
// one line each; with -s -s ip's error rows and every drop reason, zeros too, in rows shaped as
// ip's error rows (DropTable). Trailing spaces are kept where ip prints them.
using System.Text;
using Mvtap.Control;
using Mvtap.Core.Model;

namespace Mvtap.Cli;

internal static class LinkTextPrinter
{
    public static string Format(IEnumerable<LinkView> views, bool details, int statistics)
    {
        var sb = new StringBuilder();
        foreach (var v in views) Append(sb, v, details, statistics);
        return sb.ToString();
    }

    public static void Append(StringBuilder sb, LinkView v, bool details, int statistics)
    {
        sb.Append($"{v.Index}: {v.Name}@{v.Lower}: <{string.Join(',', LinkFlags.Of(v))}> mtu {v.Mtu} ")
          .Append($"qdisc {LinkFlags.Qdisc(v)} state {v.OperState} mode DEFAULT group default qlen {v.TxQueueLen}\n");

        sb.Append($"    link/ether {v.Mac} brd ff:ff:ff:ff:ff:ff");
        if (v.Netns is not null) sb.Append($" link-netns {v.Netns}");
        if (details)
        {
            sb.Append($" promiscuity {v.Promiscuity}  allmulti {v.Allmulti} minmtu {v.MinMtu} maxmtu {v.MaxMtu} \n");
            AppendMacvlanDetails(sb, v);
        }
        else sb.Append('\n');

        if (statistics > 0) AppendStatistics(sb, v.Statistics, statistics);
    }

    private static void AppendMacvlanDetails(StringBuilder sb, LinkView v)
    {
        sb.Append(v.Type == LinkWords.Host ? $"    {LinkWords.HostInfoKind} " : $"    {v.Type} mode {v.Mode} ");
        foreach (var flag in LinkWords.Flags)
            if (v.Flags.Contains(flag)) sb.Append(flag).Append(' ');
        sb.Append($"bcqueuelen {v.BcQueueLen} usedbcqueuelen {v.UsedBcQueueLen} ");
        if (v.BcCutoff != 1) sb.Append($"bclim {v.BcCutoff} ");
        if (v.Mode == "source")
        {
            sb.Append($"remotes ({v.Macaddrs.Count}) ");
            foreach (var m in v.Macaddrs) sb.Append(m).Append(' ');
        }
        sb.Append($"spoofchk {(v.SpoofCheck ? "on" : "off")} ");
        if (!v.HostAccess && v.Type != LinkWords.Host) sb.Append("hostaccess off ");
        if (v.Owner is not null) sb.Append($"owner {v.Owner} ");
        if (v.Group is not null) sb.Append($"group {v.Group} ");
        if (v.GuestMemory is not null) sb.Append($"guestmem {v.GuestMemory} ");
        sb.Append('\n');

        if (v.VhostUserPath is not null || v.StreamPath is not null)
        {
            sb.Append("    ");
            if (v.VhostUserMode == VhostUserModes.Connect)
                sb.Append($"vhost-user connect {v.VhostUserPath} {(v.VhostUserConnected ? "connected" : "dialling")} ");
            else if (v.VhostUserPath is not null) sb.Append($"vhost-user {v.VhostUserPath} ");
            if (v.StreamPath is not null) sb.Append($"stream {v.StreamPath} ");
            sb.Append('\n');
            if (v.VhostUserProblem is not null) sb.Append($"    vhost-user reason: {v.VhostUserProblem}\n");
        }
        if (v.Tap is not null) sb.Append($"    tap {v.Tap} {v.TapState ?? "gone"} \n");
        if (v.Interface is { } inner && inner != v.Name) sb.Append($"    interface {inner} \n");
        if (v.Cni is { } cni) sb.Append($"    cni network {cni.Network} container {cni.ContainerId} ifname {cni.IfName} \n");

        // mvtapd's: where the lower is and whether its datapath thread forwards, with the reasons when not plainly so
        if (v.LowerState is null && v.DatapathState is null) return;
        sb.Append("    ");
        if (v.LowerState is not null) sb.Append($"lower {v.LowerState} ");
        if (v.LowerNetns is not null) sb.Append($"netns {v.LowerNetns} ");
        if (v.DatapathState is not null) sb.Append($"datapath {v.DatapathState} restarts {v.DatapathRestarts} ");
        sb.Append('\n');
        if (v.LowerReason is not null) sb.Append($"    lower reason: {v.LowerReason}\n");
        if (v.DatapathReason is not null) sb.Append($"    datapath reason: {v.DatapathReason}\n");
    }

    /// <summary>ip's print_stats64: column widths start at the header widths and grow to fit the numbers.</summary>
    private static void AppendStatistics(StringBuilder sb, LinkStatistics s, int level)
    {
        // cols[] as in ipaddress.c: strlen("*X errors:"), "packets", "errors", "dropped", "heartbt", "overrun", "compressed"
        int[] cols = [10, 7, 6, 7, 7, 7, 10];
        Fit(cols, s.RxBytes, s.RxPackets, s.RxErrors, s.RxDropped, s.RxMissed, s.RxMulticast);
        Fit(cols, s.TxBytes, s.TxPackets, s.TxErrors, s.TxDropped, s.TxCarrierErrors, s.TxCollisions);

        sb.Append($"    RX: {Pad("bytes", cols[0] - 4)} {Pad("packets", cols[1])} {Pad("errors", cols[2])} {Pad("dropped", cols[3])} ")
          .Append($"{Pad("missed", cols[4])} {Pad("mcast", cols[5])} {Pad("", cols[6])}\n");
        Row(sb, cols, s.RxBytes, s.RxPackets, s.RxErrors, s.RxDropped, s.RxMissed, s.RxMulticast);
        if (level > 1)
        {
            sb.Append($"    RX errors:{Pad("", cols[0] - 10)} {Pad("length", cols[1])} {Pad("crc", cols[2])} {Pad("frame", cols[3])} {Pad("fifo", cols[4])} {Pad("overrun", cols[5])}\n");
            ErrorRow(sb, cols, 0, 0, 0, 0, 0);
        }
        sb.Append($"    TX: {Pad("bytes", cols[0] - 4)} {Pad("packets", cols[1])} {Pad("errors", cols[2])} {Pad("dropped", cols[3])} ")
          .Append($"{Pad("carrier", cols[4])} {Pad("collsns", cols[5])} {Pad("", cols[6])}\n");
        Row(sb, cols, s.TxBytes, s.TxPackets, s.TxErrors, s.TxDropped, s.TxCarrierErrors, s.TxCollisions);
        if (level > 1)
        {
            sb.Append($"    TX errors:{Pad("", cols[0] - 10)} {Pad("aborted", cols[1])} {Pad("fifo", cols[2])} {Pad("window", cols[3])} {Pad("heartbt", cols[4])} {Pad("transns", cols[5])}\n");
            ErrorRow(sb, cols, 0, 0, 0, 0, 0);
        }
        if (level > 1)
        {
            DropTable.Append(sb, "drops:", s.DropsByReason);
            DropTable.Append(sb, "lower drops:", s.LowerDropsByReason);
            return;
        }
        AppendDrops(sb, "drops", s.DropsByReason);
        AppendDrops(sb, "lower drops", s.LowerDropsByReason);
    }

    private static void AppendDrops(StringBuilder sb, string title, Dictionary<string, ulong> drops)
    {
        if (drops.Count == 0) return;
        sb.Append($"    {title}:");
        foreach (var (reason, count) in drops.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            sb.Append($" {reason} {count}");
        sb.Append('\n');
    }

    private static void Fit(int[] cols, params ulong[] values)
    {
        for (int i = 0; i < values.Length; i++)
            cols[i] = Math.Max(cols[i], values[i].ToString(System.Globalization.CultureInfo.InvariantCulture).Length);
    }

    private static void Row(StringBuilder sb, int[] cols, params ulong[] values)
    {
        sb.Append("    ");
        for (int i = 0; i < values.Length; i++) sb.Append(Pad(values[i].ToString(System.Globalization.CultureInfo.InvariantCulture), cols[i])).Append(' ');
        sb.Append('\n');
    }

    private static void ErrorRow(StringBuilder sb, int[] cols, params ulong[] values)
    {
        sb.Append("    ").Append(Pad("", cols[0])).Append(' ');
        for (int i = 0; i < values.Length; i++) sb.Append(Pad(values[i].ToString(System.Globalization.CultureInfo.InvariantCulture), cols[i + 1])).Append(' ');
        sb.Append('\n');
    }

    private static string Pad(string s, int width) => s.PadLeft(width);
}
