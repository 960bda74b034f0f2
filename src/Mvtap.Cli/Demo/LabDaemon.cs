// mvtapd for the demo: started from next to the mvtap executable with the lab's host
// namespace as its lower devices' home, private run and state directories, and stopped (and
// its directories removed) on Dispose.
using System.Diagnostics;

namespace Mvtap.Cli.Demo;

internal sealed class LabDaemon : IDisposable
{
    private readonly Process _process;
    private readonly string _dir;

    public LabDaemon(string hostNamespace)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "mvtapd.dll");
        if (!File.Exists(dll)) throw new FileNotFoundException($"mvtapd is not built next to mvtap ({dll}); run ./mvtap from the repository root");
        _dir = Directory.CreateTempSubdirectory("mvtap-demo-").FullName;
        RunDir = Path.Combine(_dir, "run");
        var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { dll, "--run-dir", RunDir, "--state-dir", Path.Combine(_dir, "state"), "--netns", hostNamespace })
            psi.ArgumentList.Add(a);
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (Mvtap("link", "show").Status != 0)
        {
            if (_process.HasExited) throw new InvalidOperationException($"mvtapd exited with status {_process.ExitCode}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException("mvtapd did not start within 60 s");
            Thread.Sleep(200);
        }
    }

    public string RunDir { get; }

    /// <summary>Runs an mvtap command against this daemon, in process.</summary>
    public (int Status, string Error) Mvtap(params string[] args)
    {
        var err = new StringWriter();
        int status = MvtapCli.Run(["--run-dir", RunDir, .. args], TextWriter.Null, err);
        return (status, err.ToString().Trim());
    }

    public void MustMvtap(params string[] args)
    {
        var (status, error) = Mvtap(args);
        if (status != 0) throw new InvalidOperationException($"mvtap {string.Join(' ', args)}: {error}");
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(true);
            _process.WaitForExit(10_000);
        }
        _process.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
