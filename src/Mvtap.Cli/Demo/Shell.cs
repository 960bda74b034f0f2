// Runs the lab's helper commands (ip, ping) with a bounded wait. The lab is scaffolding around
// mvtap, like a test harness: mvtap's own work goes through mvtapd and rtnetlink, never ip.
using System.Diagnostics;

namespace Mvtap.Cli.Demo;

internal static class Shell
{
    public static (int Status, string Output) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(30_000)) { p.Kill(true); return (-1, "timed out"); }
        return (p.ExitCode, output + err.Result);
    }

    /// <summary>`ip ARGS`; throws with ip's message when it fails.</summary>
    public static void Ip(params string[] args)
    {
        var (status, output) = Run("ip", args);
        if (status != 0) throw new InvalidOperationException($"ip {string.Join(' ', args)}: {output.Trim()}");
    }

    /// <summary>One echo request from a namespace, waiting at most a second for the reply.</summary>
    public static bool Ping(string netns, string address) =>
        Run("ip", "netns", "exec", netns, "ping", "-c", "1", "-W", "1", "-q", address).Status == 0;

    public static bool IsRoot => Mvtap.Linux.Interop.Identity.IsRoot;
}
