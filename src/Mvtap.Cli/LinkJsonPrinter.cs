// `mvtap -j link show` output: the field names and order of `ip -j link show` (ifindex, link,
// ifname, flags, mtu, qdisc, operstate, ..., with -d promiscuity ... linkinfo.info_kind and
// linkinfo.info_data.mode, with -s stats64), plus mvtap's own settings under "mvtap" (-d, with
// mvtap.interface: a macvlan's interface's name where it lives,
// mvtap.lower and mvtap.datapath: state, reason, from mvtapd) and drops by reason under
// stats64.drops_by_reason and, when the lower dropped any, stats64.lower_drops_by_reason (-s; with
// -s -s both, with every reason, zeros too),
// and the frames mvtap took from and sent to the lower under stats64.lower. -p indents it.
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Mvtap.Control;
using Mvtap.Core.Model;

namespace Mvtap.Cli;

internal static class LinkJsonPrinter
{
    public static string Format(IEnumerable<LinkView> views, bool details, int statistics, bool pretty)
    {
        var options = new JsonWriterOptions { Indented = pretty, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, options))
        {
            w.WriteStartArray();
            foreach (var v in views) WriteLink(w, v, details, statistics);
            w.WriteEndArray();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    private static void WriteLink(Utf8JsonWriter w, LinkView v, bool details, int statistics)
    {
        w.WriteStartObject();
        WriteFields(w, v, details, statistics);
        w.WriteEndObject();
    }

    /// <summary>One link's fields, inside an object the caller opened (`mvtap -j monitor` adds its own).</summary>
    internal static void WriteFields(Utf8JsonWriter w, LinkView v, bool details, int statistics)
    {
        w.WriteNumber("ifindex", v.Index);
        w.WriteString("link", v.Lower);
        w.WriteString("ifname", v.Name);
        w.WriteStartArray("flags");
        foreach (var f in LinkFlags.Of(v)) w.WriteStringValue(f);
        w.WriteEndArray();
        w.WriteNumber("mtu", v.Mtu);
        w.WriteString("qdisc", LinkFlags.Qdisc(v));
        w.WriteString("operstate", v.OperState);
        w.WriteString("linkmode", "DEFAULT");
        w.WriteString("group", "default");
        w.WriteNumber("txqlen", v.TxQueueLen);
        w.WriteString("link_type", "ether");
        w.WriteString("address", v.Mac);
        w.WriteString("broadcast", "ff:ff:ff:ff:ff:ff");
        if (v.Netns is not null) w.WriteString("link_netns", v.Netns);
        if (details) WriteDetails(w, v);
        if (statistics > 0) WriteStatistics(w, v.Statistics, statistics);
    }

    private static void WriteDetails(Utf8JsonWriter w, LinkView v)
    {
        w.WriteNumber("promiscuity", v.Promiscuity);
        w.WriteNumber("allmulti", v.Allmulti);
        w.WriteNumber("min_mtu", v.MinMtu);
        w.WriteNumber("max_mtu", v.MaxMtu);

        w.WriteStartObject("linkinfo");
        w.WriteString("info_kind", v.Type == LinkWords.Host ? LinkWords.HostInfoKind : v.Type);
        w.WriteStartObject("info_data");
        w.WriteString("mode", v.Mode);
        foreach (var flag in LinkWords.Flags)
            if (v.Flags.Contains(flag)) w.WriteBoolean(flag, true);
        w.WriteNumber("bcqueuelen", v.BcQueueLen);
        w.WriteNumber("usedbcqueuelen", v.UsedBcQueueLen);
        if (v.BcCutoff != 1) w.WriteNumber("bclim", v.BcCutoff);
        if (v.Mode == "source")
        {
            w.WriteNumber("macaddr_count", v.Macaddrs.Count);
            if (v.Macaddrs.Count > 0)
            {
                w.WriteStartArray("macaddr_data");
                foreach (var m in v.Macaddrs) w.WriteStringValue(m);
                w.WriteEndArray();
            }
        }
        w.WriteEndObject();
        w.WriteEndObject();

        w.WriteStartObject("mvtap");
        w.WriteBoolean("spoofchk", v.SpoofCheck);
        if (!v.HostAccess && v.Type != LinkWords.Host) w.WriteBoolean("hostaccess", false);
        if (v.Owner is not null) w.WriteString("owner", v.Owner);
        if (v.Group is not null) w.WriteString("group", v.Group);
        if (v.GuestMemory is not null) w.WriteString("guestmem", v.GuestMemory);
        if (v.VhostUserPath is not null) w.WriteString("vhost_user", v.VhostUserPath);
        if (v.VhostUserMode is not null) w.WriteString("vhost_user_mode", v.VhostUserMode);
        if (v.VhostUserMode == VhostUserModes.Connect)
        {
            w.WriteBoolean("vhost_user_connected", v.VhostUserConnected);
            if (v.VhostUserProblem is not null) w.WriteString("vhost_user_reason", v.VhostUserProblem);
        }
        if (v.StreamPath is not null) w.WriteString("stream", v.StreamPath);
        if (v.Interface is not null) w.WriteString("interface", v.Interface);
        if (v.Tap is not null)
        {
            w.WriteStartObject("tap");
            w.WriteString("name", v.Tap);
            w.WriteString("state", v.TapState ?? "gone");
            w.WriteEndObject();
        }
        if (v.Cni is { } cni)
        {
            w.WriteStartObject("cni");
            w.WriteString("container_id", cni.ContainerId);
            w.WriteString("ifname", cni.IfName);
            w.WriteString("network", cni.Network);
            w.WriteEndObject();
        }
        if (v.LowerState is not null)
        {
            w.WriteStartObject("lower");
            w.WriteString("state", v.LowerState);
            if (v.LowerReason is not null) w.WriteString("reason", v.LowerReason);
            if (v.LowerNetns is not null) w.WriteString("netns", v.LowerNetns);
            w.WriteEndObject();
        }
        if (v.DatapathState is not null)
        {
            w.WriteStartObject("datapath");
            w.WriteString("state", v.DatapathState);
            if (v.DatapathReason is not null) w.WriteString("reason", v.DatapathReason);
            w.WriteNumber("restarts", v.DatapathRestarts);
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    private static void WriteStatistics(Utf8JsonWriter w, LinkStatistics s, int level)
    {
        w.WriteStartObject("stats64");
        w.WriteStartObject("rx");
        w.WriteNumber("bytes", s.RxBytes);
        w.WriteNumber("packets", s.RxPackets);
        w.WriteNumber("errors", s.RxErrors);
        w.WriteNumber("dropped", s.RxDropped);
        w.WriteNumber("over_errors", 0);
        w.WriteNumber("multicast", s.RxMulticast);
        if (level > 1)
        {
            w.WriteNumber("length_errors", 0);
            w.WriteNumber("crc_errors", 0);
            w.WriteNumber("frame_errors", 0);
            w.WriteNumber("fifo_errors", 0);
            w.WriteNumber("missed_errors", s.RxMissed);
        }
        w.WriteEndObject();
        w.WriteStartObject("tx");
        w.WriteNumber("bytes", s.TxBytes);
        w.WriteNumber("packets", s.TxPackets);
        w.WriteNumber("errors", s.TxErrors);
        w.WriteNumber("dropped", s.TxDropped);
        w.WriteNumber("carrier_errors", s.TxCarrierErrors);
        w.WriteNumber("collisions", s.TxCollisions);
        if (level > 1)
        {
            w.WriteNumber("aborted_errors", 0);
            w.WriteNumber("fifo_errors", 0);
            w.WriteNumber("window_errors", 0);
            w.WriteNumber("heartbeat_errors", 0);
        }
        w.WriteEndObject();
        // -s: the reasons that dropped something; -s -s: every reason, zeros too, as ip -s -s adds every error counter
        WriteDrops(w, "drops_by_reason", level > 1 ? DropTable.Complete(s.DropsByReason) : Sorted(s.DropsByReason));
        if (level > 1 || s.LowerDropsByReason.Count > 0)
            WriteDrops(w, "lower_drops_by_reason", level > 1 ? DropTable.Complete(s.LowerDropsByReason) : Sorted(s.LowerDropsByReason));
        w.WriteStartObject("lower");
        w.WriteNumber("rx_packets", s.LowerRxPackets);
        w.WriteNumber("tx_packets", s.LowerTxPackets);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static IEnumerable<KeyValuePair<string, ulong>> Sorted(Dictionary<string, ulong> drops) =>
        drops.OrderBy(kv => kv.Key, StringComparer.Ordinal);

    private static void WriteDrops(Utf8JsonWriter w, string name, IEnumerable<KeyValuePair<string, ulong>> drops)
    {
        w.WriteStartObject(name);
        foreach (var (reason, count) in drops) w.WriteNumber(reason, count);
        w.WriteEndObject();
    }
}
