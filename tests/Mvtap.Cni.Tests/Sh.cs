// Runs the helper commands of the tests (ip, podman, tar, ./mvtap) with a bounded wait and their
// output captured, so a failure names the command and what it said.
using System.Diagnostics;

namespace Mvtap.Cni.Tests;

internal static class Sh
{
    public static (int Status, string Output) Try(string file, params string[] args) => TryWith(null, 120, file, args);

    public static (int Status, string Output) TryWith(IDictionary<string, string>? env, int seconds, string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(seconds * 1000)) { p.Kill(true); return (-1, $"{file} {string.Join(' ', args)}: timed out after {seconds} s"); }
        p.WaitForExit();
        return (p.ExitCode, output.Result + err.Result);
    }

    public static string Must(string file, params string[] args) => MustWith(null, 120, file, args);

    public static string MustWith(IDictionary<string, string>? env, int seconds, string file, params string[] args)
    {
        var (status, output) = TryWith(env, seconds, file, args);
        if (status != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {status}: {output.Trim()}");
        return output;
    }

    public static void Ip(params string[] args) => Must("ip", args);

    /// <summary>Waits (bounded) for a condition that an event outside the test makes true.</summary>
    public static bool Eventually(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (condition()) return true;
            if (DateTime.UtcNow > deadline) return false;
            Thread.Sleep(100);
        }
    }
}
