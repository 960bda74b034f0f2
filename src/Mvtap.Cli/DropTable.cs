// `mvtap -s -s link show`'s drops by reason, shaped as ip's "RX errors:" rows: a title, then rows
// of up to five reason names over their counts, each column as wide as its name or number, right
// aligned. Every reason this mvtap knows is listed, zeros too (ip -s -s lists every error counter),
// in DropReason's order, then any reason a newer mvtapd reported that this CLI does not know.
using System.Globalization;
using System.Text;
using Mvtap.Core.Model;

namespace Mvtap.Cli;

internal static class DropTable
{
    private const int PerRow = 5;
    private const int TitleWidth = 12; // "lower drops:"

    /// <summary>Every reason with its count: the known ones in order, zeros included, then unknown ones by name.</summary>
    public static List<KeyValuePair<string, ulong>> Complete(Dictionary<string, ulong> drops)
    {
        var all = new List<KeyValuePair<string, ulong>>();
        foreach (var reason in Enum.GetValues<DropReason>())
        {
            string name = reason.Name();
            all.Add(new(name, drops.TryGetValue(name, out var n) ? n : 0));
        }
        foreach (var (name, count) in drops.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            if (!all.Exists(kv => kv.Key == name)) all.Add(new(name, count));
        return all;
    }

    public static void Append(StringBuilder sb, string title, Dictionary<string, ulong> drops)
    {
        var all = Complete(drops);
        for (int start = 0; start < all.Count; start += PerRow)
        {
            var row = all.GetRange(start, Math.Min(PerRow, all.Count - start));
            var widths = row.Select(kv => Math.Max(kv.Key.Length, Number(kv.Value).Length)).ToList();
            sb.Append("    ").Append((start == 0 ? title : "").PadRight(TitleWidth));
            for (int i = 0; i < row.Count; i++) sb.Append(' ').Append(row[i].Key.PadLeft(widths[i]));
            sb.Append('\n');
            sb.Append("    ").Append("".PadRight(TitleWidth));
            for (int i = 0; i < row.Count; i++) sb.Append(' ').Append(Number(row[i].Value).PadLeft(widths[i]));
            sb.Append(" \n");
        }
    }

    private static string Number(ulong n) => n.ToString(CultureInfo.InvariantCulture);
}
