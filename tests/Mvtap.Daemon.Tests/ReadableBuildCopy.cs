// A copy of this test assembly's build output (which holds mvtap.dll and mvtapd.dll too) in a
// temporary directory everyone may read, for a test that runs a program as another user (uid
// 65534): the checkout itself may be readable by root only (CI clones into `mktemp -d`), and a
// test must not depend on where the checkout lives. RunAsNobody runs one of its programs as uid
// and gid 65534 (nobody, no supplementary groups) through setpriv; StartAs, as any uid. Dispose removes the copy.
using System.Diagnostics;

namespace Mvtap.Daemon.Tests;

internal sealed class ReadableBuildCopy : IDisposable
{
    private const UnixFileMode Readable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const UnixFileMode Traversable = Readable | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    public ReadableBuildCopy()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("mvtap-readable-").FullName;
        File.SetUnixFileMode(Directory, Traversable);
        // the top level is the whole program: no package of the CLI or the daemon has native parts in runtimes/
        foreach (var file in System.IO.Directory.GetFiles(AppContext.BaseDirectory))
        {
            var copy = Path.Combine(Directory, Path.GetFileName(file));
            File.Copy(file, copy);
            File.SetUnixFileMode(copy, Readable);
        }
    }

    public string Directory { get; }

    public const int NobodyId = 65534;

    /// <summary>`dotnet DLL ARGS` from the copy as nobody; waits at most <paramref name="timeout"/>
    /// (then kills it: Status null) and returns its exit status, standard output and error.</summary>
    public (int? Status, string Out, string Err) RunAsNobody(string dll, TimeSpan timeout, IEnumerable<string> args) =>
        RunAs(NobodyId, dll, timeout, args);

    /// <summary>RunAsNobody as uid and gid <paramref name="id"/>.</summary>
    public (int? Status, string Out, string Err) RunAs(int id, string dll, TimeSpan timeout, IEnumerable<string> args)
    {
        using var p = StartAs(id, dll, args);
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(true);
            p.WaitForExit();
            return (null, output.Result, err.Result);
        }
        return (p.ExitCode, output.Result, err.Result);
    }

    /// <summary>Starts `dotnet DLL ARGS` from the copy as uid and gid <paramref name="id"/> (no supplementary
    /// groups), standard output and error redirected.</summary>
    public Process StartAs(int id, string dll, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo("setpriv")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Directory,
        };
        foreach (var a in (string[])[$"--reuid={id}", $"--regid={id}", "--clear-groups", "dotnet", Path.Combine(Directory, dll), .. args])
            psi.ArgumentList.Add(a);
        psi.Environment["HOME"] = "/tmp";
        psi.Environment["DOTNET_CLI_HOME"] = "/tmp";
        return Process.Start(psi)!;
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
