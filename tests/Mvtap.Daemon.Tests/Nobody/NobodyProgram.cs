// Runs this test assembly as a program (its entry point is TestAssemblyProgram) under uid and
// gid 65534 (nobody, no supplementary groups) through setpriv, for the part of a test that must
// be another, unprivileged process: an endpoint's owner attacking the daemon. It runs from a
// world-readable copy of the build output (ReadableBuildCopy), so wherever the checkout lives.
using System.Diagnostics;

namespace Mvtap.Daemon.Tests.Nobody;

internal sealed class NobodyProgram : IDisposable
{
    public const int Id = NobodyCli.Id;
    private readonly ReadableBuildCopy _copy = new();

    /// <summary>Runs `COMMAND ARGS` of TestAssemblyProgram as nobody; waits at most
    /// <paramref name="timeout"/> (then kills it) and returns its exit status and output.</summary>
    public (int Status, string Output) Run(TimeSpan timeout, params string[] args)
    {
        var psi = new ProcessStartInfo("setpriv")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _copy.Directory,
        };
        foreach (var a in (string[])[$"--reuid={Id}", $"--regid={Id}", "--clear-groups", "dotnet", Path.Combine(_copy.Directory, "Mvtap.Daemon.Tests.dll"), .. args])
            psi.ArgumentList.Add(a);
        psi.Environment["HOME"] = "/tmp";
        psi.Environment["DOTNET_CLI_HOME"] = "/tmp";
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(true);
            p.WaitForExit();
            return (-1, $"timed out after {timeout}\n{output.Result}{err.Result}");
        }
        return (p.ExitCode, output.Result + err.Result);
    }

    public void Dispose() => _copy.Dispose();
}
