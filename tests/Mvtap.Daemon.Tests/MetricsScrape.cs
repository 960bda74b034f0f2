// Test scaffolding for `mvtapd --metrics`: finds the address a daemon logged it serves on, scrapes
// it over HTTP, parses the Prometheus text format into series (name and labels → value), and runs
// `promtool check metrics` on a scrape.
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Mvtap.Daemon.Tests;

internal static partial class MetricsScrape
{
    /// <summary>http://ADDRESS:PORT/metrics as the daemon logged it (waits for the line).</summary>
    public static string Url(MvtapdProcess d)
    {
        var output = TestNet.WaitFor(() => d.Output, o => Served().IsMatch(o));
        var match = Served().Match(output);
        Assert.True(match.Success, $"mvtapd did not say where it serves metrics:\n{output}");
        return match.Groups[1].Value;
    }

    public static string Get(string url)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using var response = http.GetAsync(url).GetAwaiter().GetResult();
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType!.ToString());
        return response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
    }

    /// <summary>Every sample: "name{a="x",b="y"}" (labels as written) → value.</summary>
    public static Dictionary<string, double> Parse(string text)
    {
        var samples = new Dictionary<string, double>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith('#')) continue;
            int space = line.LastIndexOf(' ');
            samples.Add(line[..space], double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture));
        }
        return samples;
    }

    /// <summary>The value of name{labels}, labels given in the order mvtapd writes them; null when absent.</summary>
    public static double? Value(Dictionary<string, double> samples, string name, params (string Label, string Value)[] labels)
    {
        var key = labels.Length == 0 ? name : $"{name}{{{string.Join(',', labels.Select(l => $"{l.Label}=\"{l.Value}\""))}}}";
        return samples.TryGetValue(key, out var v) ? v : null;
    }

    /// <summary>`promtool check metrics` on the scrape: its exit status and what it printed.</summary>
    public static (int Status, string Output) Promtool(string scrape)
    {
        var psi = new ProcessStartInfo("promtool") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("check");
        psi.ArgumentList.Add("metrics");
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        p.StandardInput.Write(scrape);
        p.StandardInput.Close();
        if (!p.WaitForExit(60_000)) { p.Kill(true); return (-1, "promtool timed out"); }
        return (p.ExitCode, output.Result + error.Result);
    }

    [GeneratedRegex(@"serving metrics on (http://\S+/metrics)")]
    private static partial Regex Served();
}
