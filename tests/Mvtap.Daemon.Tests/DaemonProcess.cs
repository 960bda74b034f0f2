// Runs the real mvtapd (the built mvtapd.dll) in its own run and state directories, for
// tests of restart, refusal to start and the control socket. Always killed on Dispose.
using System.Diagnostics;
using System.Text;
using Mvtap.Cli;

namespace Mvtap.Daemon.Tests;

internal sealed class DaemonProcess : IDisposable
{
    private static readonly string Bin = AppContext.BaseDirectory;
    private readonly StringBuilder _output = new();
    private Process? _process;

    public DaemonProcess(string runDir, string stateDir, params string[] extraArgs)
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

    public static ProcessStartInfo Dotnet(string dll, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(Bin, dll));
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }

    public Process Start()
    {
        if (File.Exists(SocketPath)) File.Delete(SocketPath);
        var p = Process.Start(Dotnet("mvtapd.dll", ["--run-dir", RunDir, "--state-dir", StateDir, .. ExtraArgs]))!;
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        _process = p;
        return p;
    }

    /// <summary>Starts mvtapd and waits (bounded) until its control socket answers.</summary>
    public void StartAndWait()
    {
        var p = Start();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (p.HasExited) throw new InvalidOperationException($"mvtapd exited with {p.ExitCode}:\n{Output}");
            if (File.Exists(SocketPath) && Cli("link", "show").Status == 0) return;
            Thread.Sleep(100);
        }
        throw new TimeoutException($"mvtapd did not come up:\n{Output}");
    }

    /// <summary>The process is running (started and not exited).</summary>
    public bool IsRunning => _process is { HasExited: false };

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

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")]
    internal static extern int Kill(int pid, int signal);

    public void Dispose()
    {
        if (_process is { HasExited: false } p)
        {
            p.Kill(true);
            p.WaitForExit(10_000);
        }
        _process?.Dispose();
    }
}
