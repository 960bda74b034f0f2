// The real mvtapd (the built mvtapd.dll, which lands next to the tests of every project that
// references Mvtap.Daemon) in a test's own run and state directories. Start/StartAndWait start
// it, Stop sends SIGTERM and waits as `systemctl stop` would, Signal/WaitForExit let a test watch
// it end; Cli runs the mvtap CLI in process against it. Always killed on Dispose.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Mvtap.Cli;

namespace Mvtap.TestSupport;

public class MvtapdProcess : IDisposable
{
    /// <summary>The bound for coming up (NativeAOT-free, but JIT and restore under load): for failing, not a measure.</summary>
    private static readonly TimeSpan StartBound = TimeSpan.FromSeconds(90);
    private readonly StringBuilder _output = new();
    private Process? _process;

    public MvtapdProcess(string runDir, string stateDir, params string[] extraArgs)
    {
        RunDir = runDir;
        StateDir = stateDir;
        ExtraArgs = extraArgs;
    }

    public string RunDir { get; }
    public string StateDir { get; }
    public string[] ExtraArgs { get; }
    public string SocketPath => Path.Combine(RunDir, "mvtapd.sock");
    public string Output { get { lock (_output) return _output.ToString(); } }
    /// <summary>True once the started mvtapd has exited (killed by a signal, or stopped).</summary>
    public bool HasExited => _process is { HasExited: true };
    /// <summary>The process is running (started and not exited).</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>`dotnet DLL ARGS` for a tool built next to the tests (mvtapd.dll, mvtap.dll).</summary>
    public static ProcessStartInfo Dotnet(string dll, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, dll));
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }

    /// <summary>Starts mvtapd and returns at once (a stale socket of an earlier run is removed first).</summary>
    public Process Start()
    {
        if (File.Exists(SocketPath)) File.Delete(SocketPath);
        var p = Process.Start(Dotnet("mvtapd.dll", ["--run-dir", RunDir, "--state-dir", StateDir, .. ExtraArgs]))!;
        p.OutputDataReceived += (_, e) => Append(e.Data);
        p.ErrorDataReceived += (_, e) => Append(e.Data);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        _process = p;
        return p;
    }

    /// <summary>Starts mvtapd and waits (bounded) until its control socket answers.</summary>
    public void StartAndWait()
    {
        var p = Start();
        var deadline = DateTime.UtcNow + StartBound;
        while (DateTime.UtcNow < deadline)
        {
            if (p.HasExited) throw new InvalidOperationException($"mvtapd exited with {p.ExitCode}:\n{Output}");
            if (File.Exists(SocketPath) && Cli("link", "show").Status == 0) return;
            Thread.Sleep(100);
        }
        throw new TimeoutException($"mvtapd did not come up:\n{Output}");
    }

    /// <summary>SIGTERM and wait: mvtapd stops cleanly and keeps the containers' interfaces.</summary>
    public void Stop()
    {
        if (_process is not { HasExited: false } p) return;
        using (var k = Process.Start("kill", ["-TERM", p.Id.ToString(CultureInfo.InvariantCulture)])) k.WaitForExit(10_000);
        if (!p.WaitForExit(60_000)) { p.Kill(true); throw new TimeoutException($"mvtapd did not stop on SIGTERM:\n{Output}"); }
        p.WaitForExit();
    }

    /// <summary>Stop then start with the same state, as an operator's `systemctl restart mvtapd` would.</summary>
    public void Restart()
    {
        Stop();
        StartAndWait();
    }

    public void Signal(int signal)
    {
        if (_process is { HasExited: false } p) Kill(p.Id, signal);
    }

    public int WaitForExit(int seconds = 30)
    {
        var p = _process!;
        if (!p.WaitForExit(seconds * 1000)) { p.Kill(true); throw new TimeoutException($"mvtapd did not stop:\n{Output}"); }
        p.WaitForExit();
        return p.ExitCode;
    }

    /// <summary>Runs the mvtap CLI in process against this daemon.</summary>
    public (int Status, string Out, string Err) Cli(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int status = MvtapCli.Run(["--run-dir", RunDir, .. args], o, e);
        return (status, o.ToString(), e.ToString());
    }

    /// <summary>Runs the mvtap CLI, which must succeed; returns its standard output.</summary>
    public string MustCli(params string[] args)
    {
        var (status, o, e) = Cli(args);
        if (status != 0) throw new InvalidOperationException($"mvtap {string.Join(' ', args)} exited {status}: {e.Trim()}\nmvtapd:\n{Output}");
        return o;
    }

    /// <summary>Sends <paramref name="signal"/> to the process <paramref name="pid"/> (one this test
    /// started) with kill(1); returns kill's exit status.</summary>
    public static int Kill(int pid, int signal)
    {
        using var k = Process.Start("kill", [$"-{signal.ToString(CultureInfo.InvariantCulture)}", pid.ToString(CultureInfo.InvariantCulture)])!;
        k.WaitForExit();
        return k.ExitCode;
    }

    private void Append(string? line)
    {
        if (line is not null) lock (_output) _output.AppendLine(line);
    }

    protected virtual void Dispose(bool disposing)
    {
        try
        {
            if (_process is { HasExited: false } p)
            {
                p.Kill(entireProcessTree: true);
                p.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException) { }
        _process?.Dispose();
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }
}
