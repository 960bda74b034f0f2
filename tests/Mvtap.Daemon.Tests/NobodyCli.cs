// The mvtap CLI run as uid and gid 65534 (nobody, no supplementary groups) through setpriv, from a
// world-readable copy of the build output (ReadableBuildCopy), so it runs wherever the checkout is.
using System.Diagnostics;

namespace Mvtap.Daemon.Tests;

internal sealed class NobodyCli : IDisposable
{
    public const int Id = 65534;
    private readonly ReadableBuildCopy _copy = new();

    /// <summary>`mvtap --run-dir RUNDIR ARGS` as nobody; its exit status and standard error.</summary>
    public (int Status, string Err) Run(string runDir, params string[] args)
    {
        var psi = new ProcessStartInfo("setpriv")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _copy.Directory,
        };
        foreach (var a in (string[])[$"--reuid={Id}", $"--regid={Id}", "--clear-groups", "dotnet", Path.Combine(_copy.Directory, "mvtap.dll"), "--run-dir", runDir, .. args])
            psi.ArgumentList.Add(a);
        psi.Environment["HOME"] = "/tmp";
        psi.Environment["DOTNET_CLI_HOME"] = "/tmp";
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(60_000))
        {
            p.Kill(true);
            throw new TimeoutException($"mvtap {string.Join(' ', args)} as nobody did not finish");
        }
        return (p.ExitCode, err.Result);
    }

    public void Dispose() => _copy.Dispose();
}
