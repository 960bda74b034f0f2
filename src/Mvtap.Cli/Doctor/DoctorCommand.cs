// `mvtap doctor [ state-dir DIR ] [ socket-group GROUP ] [ netns NS ] [ dev LOWER ]...`: checks
// what mvtap needs on this host and prints one line per check, OK, WARN or ERROR with the fix, as
// health tools do (-j: a JSON array of {check, status, detail, fix}). Exit status 1 when a check
// found an error (mvtap cannot work as configured), 0 otherwise (warnings: it works, with less).
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Mvtap.Cli.Doctor;

internal static class DoctorCommand
{
    public const string Usage =
        "Usage: mvtap doctor [ state-dir DIR ] [ socket-group GROUP ] [ netns NS ] [ dev LOWER ]...\n" +
        "Checks what mvtapd needs on this host (with the options mvtapd runs with; defaults are the\n" +
        "shipped unit's) and the lowers mvtapd has (asked over the control socket) or are named.\n" +
        "Exit status: 1 when a check finds an error, 0 otherwise.\n";

    /// <summary>The settings the command line asks for, or null for `help`.</summary>
    public static DoctorSettings? Parse(IReadOnlyList<string> words, string runDir)
    {
        var s = new DoctorSettings { RunDir = runDir };
        for (int i = 0; i < words.Count; i++)
        {
            string w = words[i];
            string Value() => i + 1 < words.Count ? words[++i] : throw new CommandLineException($"Command line is not complete. Try option \"help\"");
            if (Keyword.Matches(w, "help")) return null;
            if (w == "state-dir") s = s with { StateDir = Value() };
            else if (w == "socket-group") s = s with { SocketGroup = Value() };
            else if (w == "netns") s = s with { Netns = Value() };
            else if (w == "dev") s = s with { Lowers = [.. s.Lowers, Value()] };
            else throw new CommandLineException($"Error: either \"dev\" is duplicate, or \"{w}\" is a garbage.");
        }
        return s;
    }

    public static List<DoctorFinding> Check(DoctorSettings s)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("mvtap doctor checks a Linux host");
        var findings = new List<DoctorFinding>
        {
            KernelChecks.PacketSocket(s),
            KernelChecks.TunDevice(s),
            KernelChecks.Sealing(s),
            ServiceChecks.SocketGroup(s),
            StateDirChecks.Permissions(s),
            StateDirChecks.FreeSpace(s),
            ServiceChecks.Systemd(s),
        };
        var (daemon, lowers) = LowerChecks.Collect(s);
        findings.Add(daemon);
        foreach (var (lower, netns) in lowers) findings.AddRange(LowerChecks.Check(lower, netns));
        return findings;
    }

    public static int Run(DoctorSettings s, bool json, bool pretty, TextWriter stdout)
    {
        var findings = Check(s);
        stdout.Write(json ? FormatJson(findings, pretty) : FormatText(findings));
        return findings.Any(f => f.Severity == Severity.Error) ? 1 : 0;
    }

    public static string FormatText(IReadOnlyList<DoctorFinding> findings)
    {
        int width = findings.Max(f => f.Check.Length);
        var sb = new StringBuilder();
        foreach (var f in findings)
        {
            sb.Append($"{f.Word,-5} {f.Check.PadRight(width)}  {f.Detail}");
            if (f.Fix is not null) sb.Append($"; fix: {f.Fix}");
            sb.Append('\n');
        }
        int errors = findings.Count(f => f.Severity == Severity.Error), warnings = findings.Count(f => f.Severity == Severity.Warn);
        sb.Append($"{findings.Count} checks: {errors} error{(errors == 1 ? "" : "s")}, {warnings} warning{(warnings == 1 ? "" : "s")}\n");
        return sb.ToString();
    }

    public static string FormatJson(IReadOnlyList<DoctorFinding> findings, bool pretty)
    {
        var options = new JsonWriterOptions { Indented = pretty, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, options))
        {
            w.WriteStartArray();
            foreach (var f in findings)
            {
                w.WriteStartObject();
                w.WriteString("check", f.Check);
                w.WriteString("status", f.Word);
                w.WriteString("detail", f.Detail);
                if (f.Fix is not null) w.WriteString("fix", f.Fix);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }
}
