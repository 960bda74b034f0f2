// Runs the helper commands of the tests (ip, podman, tar, apt-get, ./mvtap ...) with a bounded wait
// and their output captured, so a failure names the command and what it said. Tests use these
// only to set up and inspect topology; mvtap itself never shells out.
using System.Diagnostics;

namespace Mvtap.TestSupport;

public static class Sh
{
    /// <summary>The bound for a command that is not given one (a bound for failing, not a measure).</summary>
    public const int DefaultSeconds = 120;

    /// <summary>Exit status and standard output and error, apart; status -1 when it did not finish
    /// within <paramref name="seconds"/> (then it is killed).</summary>
    public static (int Status, string Out, string Err) Capture(string? workDir, IDictionary<string, string>? env, int seconds, string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (workDir is not null) psi.WorkingDirectory = workDir;
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(seconds * 1000))
        {
            p.Kill(true);
            p.WaitForExit();
            return (-1, output.Result, $"{file} {string.Join(' ', args)}: timed out after {seconds} s\n{err.Result}");
        }
        p.WaitForExit();
        return (p.ExitCode, output.Result, err.Result);
    }

    /// <summary>Exit status and standard output followed by standard error.</summary>
    public static (int Status, string Output) Try(string file, params string[] args) => TryWith(null, DefaultSeconds, file, args);

    public static (int Status, string Output) TryWith(IDictionary<string, string>? env, int seconds, string file, params string[] args)
    {
        var (status, o, e) = Capture(null, env, seconds, file, args);
        return (status, o + e);
    }

    public static (int Status, string Output) TryIn(string? workDir, int seconds, string file, params string[] args)
    {
        var (status, o, e) = Capture(workDir, null, seconds, file, args);
        return (status, o + e);
    }

    /// <summary>Runs a command that must succeed; returns its output (standard output and error).</summary>
    public static string Must(string file, params string[] args) => MustWith(null, DefaultSeconds, file, args);

    public static string MustWith(IDictionary<string, string>? env, int seconds, string file, params string[] args) =>
        Checked(file, args, TryWith(env, seconds, file, args));

    public static string MustIn(string? workDir, int seconds, string file, params string[] args) =>
        Checked(file, args, TryIn(workDir, seconds, file, args));

    /// <summary>Runs a command that must succeed; returns its standard output alone (for parsing).</summary>
    public static string Out(string file, params string[] args)
    {
        var (status, o, e) = Capture(null, null, DefaultSeconds, file, args);
        if (status != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)}: exit {status}: {e}");
        return o;
    }

    public static void Ip(params string[] args) => Must("ip", args);

    private static string Checked(string file, string[] args, (int Status, string Output) run) =>
        run.Status == 0 ? run.Output : throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {run.Status}: {run.Output.Trim()}");
}
