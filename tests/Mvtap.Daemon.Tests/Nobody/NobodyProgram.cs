// Runs this test assembly as a program (its entry point is TestAssemblyProgram) under uid and
// gid 65534 (nobody) through setpriv, for the part of a test that must be another, unprivileged
// process: an endpoint's owner attacking the daemon. The program runs from a copy of the build
// output in a temporary directory everyone may read, since the checkout itself may be readable
// by root only (CI clones into such a directory). Dispose removes the copy.
using System.Diagnostics;

namespace Mvtap.Daemon.Tests.Nobody;

internal sealed class NobodyProgram : IDisposable
{
    public const int Id = 65534;
    private const UnixFileMode Readable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const UnixFileMode Traversable = Readable | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
    private readonly string _dir = Directory.CreateTempSubdirectory("mvtap-nobody-").FullName;

    public NobodyProgram()
    {
        File.SetUnixFileMode(_dir, Traversable);
        // Without the deps.json the host loads every assembly of the directory: only what the
        // program touches has to be there, and it all is.
        foreach (var file in Directory.GetFiles(AppContext.BaseDirectory))
        {
            if (file.EndsWith(".deps.json", StringComparison.Ordinal)) continue;
            var copy = Path.Combine(_dir, Path.GetFileName(file));
            File.Copy(file, copy);
            File.SetUnixFileMode(copy, Readable);
        }
    }

    /// <summary>Runs `COMMAND ARGS` of TestAssemblyProgram as nobody; waits at most
    /// <paramref name="timeout"/> (then kills it) and returns its exit status and output.</summary>
    public (int Status, string Output) Run(TimeSpan timeout, params string[] args)
    {
        var psi = new ProcessStartInfo("setpriv")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _dir,
        };
        foreach (var a in (string[])[$"--reuid={Id}", $"--regid={Id}", "--clear-groups", "dotnet", Path.Combine(_dir, "Mvtap.Daemon.Tests.dll"), .. args])
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

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
