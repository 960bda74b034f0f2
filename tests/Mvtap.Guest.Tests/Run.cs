// Runs the helper commands of the tests (ip, apt-get, dpkg-deb, mknod) with a bounded wait and
// their output captured, so a failure names the command and what it said.
using System.Diagnostics;

namespace Mvtap.Guest.Tests;

internal static class Run
{
    public static (int Status, string Output) Try(string file, params string[] args) => TryIn(null, 60, file, args);

    public static (int Status, string Output) TryIn(string? workDir, int seconds, string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (workDir is not null) psi.WorkingDirectory = workDir;
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(seconds * 1000)) { p.Kill(true); return (-1, $"{file}: timed out after {seconds} s"); }
        p.WaitForExit();
        return (p.ExitCode, output.Result + err.Result);
    }

    /// <summary>Runs a command that must succeed; returns its output.</summary>
    public static string Must(string file, params string[] args) => MustIn(null, 60, file, args);

    public static string MustIn(string? workDir, int seconds, string file, params string[] args)
    {
        var (status, output) = TryIn(workDir, seconds, file, args);
        if (status != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {status}: {output.Trim()}");
        return output;
    }

    public static void Ip(params string[] args) => Must("ip", args);

    public static bool IsRoot => geteuid() == 0;

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern uint geteuid();
}
