// `mvtap monitor [ link ]`: prints each change of mvtapd's endpoints as it happens, shaped like
// `ip monitor link`: the link's lines as `link show` prints them ("Deleted " before a deleted
// one's), then what happened ("    event address 02:..", "    event lower gone (why)"). With -j
// one JSON object a line: `ip -j link show`'s fields plus "event" and, when there is one, "detail".
// When mvtapd dropped events because this client read too slowly, a line says how many. Runs
// until mvtapd closes the connection (it stops) or the user interrupts it.
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Mvtap.Control;

namespace Mvtap.Cli;

internal static class MonitorCommand
{
    public const string Usage = "Usage: mvtap [ -j ] monitor [ link ]\n";

    /// <summary>False for `help`; refuses any other word but `link`.</summary>
    public static bool Parse(IReadOnlyList<string> words)
    {
        foreach (var w in words)
        {
            if (Keyword.Matches(w, "help")) return false;
            if (!Keyword.Matches(w, "link")) throw new CommandLineException($"Argument \"{w}\" is unknown, try \"mvtap monitor help\".");
        }
        return true;
    }

    public static int Run(ControlClient client, bool json, TextWriter stdout)
    {
        var response = client.Monitor(e =>
        {
            stdout.Write(json ? JsonLine(e) : Text(e));
            stdout.Flush();
        });
        if (!response.Ok) throw new LinkOperationException(response.Error?.Errno ?? 0, response.Error?.Message ?? "");
        return 0;
    }

    public static string Text(LinkEvent e)
    {
        if (e.Kind == LinkEvent.Lost) return $"mvtap monitor: {e.LostCount} events lost (read too slowly)\n";
        var sb = new StringBuilder();
        if (e.Kind == LinkEvent.Deleted) sb.Append("Deleted ");
        if (e.Link is { } v) LinkTextPrinter.Append(sb, v, details: false, statistics: 0);
        sb.Append("    event ").Append(e.Kind);
        if (e.Detail is not null) sb.Append(' ').Append(e.Detail);
        sb.Append('\n');
        return sb.ToString();
    }

    public static string JsonLine(LinkEvent e)
    {
        var options = new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, options))
        {
            w.WriteStartObject();
            w.WriteString("event", e.Kind);
            if (e.Detail is not null) w.WriteString("detail", e.Detail);
            if (e.Kind == LinkEvent.Lost) w.WriteNumber("count", e.LostCount);
            if (e.Link is { } v) LinkJsonPrinter.WriteFields(w, v, details: false, statistics: 0);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }
}
