// The real mvtapd (the built mvtapd.dll) for one test, in the lab's run and state directories,
// with its lower devices in the lab's namespace (or the host's). Stop/Start restart it with the
// same state, as an operator's `systemctl restart mvtapd` would. Killed on Dispose.
using System.Diagnostics;
using System.Text;
using Mvtap.Cli;

namespace Mvtap.Cni.Tests;

internal sealed class MvtapdProcess : IDisposable
{
    private readonly StringBuilder _output = new();
    private readonly string? _netns;
    private Process? _process;

    public MvtapdProcess(string runDir, string stateDir, string? netns)
    {
        RunDir = runDir;
        StateDir = stateDir;
        _netns = netns;
        Start();
    }

    public string RunDir { get; }
    public string StateDir { get; }
    public string Output { get { lock (_output) return _output.ToString(); } }

    public void Start()
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "mvtapd.dll"), "--run-dir", RunDir, "--state-dir", StateDir })
            psi.ArgumentList.Add(a);
        if (_netns is not null) { psi.ArgumentList.Add("--netns"); psi.ArgumentList.Add(_netns); }
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, e) => Append(e.Data);
        p.ErrorDataReceived += (_, e) => Append(e.Data);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        _process = p;
        if (!Sh.Eventually(() => p.HasExited || (File.Exists(Path.Combine(RunDir, "mvtapd.sock")) && Cli("link", "show").Status == 0),
                TimeSpan.FromSeconds(90)) || p.HasExited)
            throw new InvalidOperationException($"mvtapd did not come up:\n{Output}");
    }

    /// <summary>SIGTERM and wait: mvtapd stops cleanly and keeps the containers' interfaces.</summary>
    public void Stop()
    {
        if (_process is not { HasExited: false } p) return;
        using (var k = Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) k.WaitForExit(10_000);
        if (!p.WaitForExit(60_000)) { p.Kill(true); throw new TimeoutException($"mvtapd did not stop on SIGTERM:\n{Output}"); }
        p.WaitForExit();
    }

    public void Restart()
    {
        Stop();
        Start();
    }

    /// <summary>Runs the mvtap CLI in process against this daemon.</summary>
    public (int Status, string Out, string Err) Cli(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int status = MvtapCli.Run(["--run-dir", RunDir, .. args], o, e);
        return (status, o.ToString(), e.ToString());
    }

    public string MustCli(params string[] args)
    {
        var (status, o, e) = Cli(args);
        if (status != 0) throw new InvalidOperationException($"mvtap {string.Join(' ', args)} exited {status}: {e.Trim()}\nmvtapd:\n{Output}");
        return o;
    }

    private void Append(string? line)
    {
        if (line is not null) lock (_output) _output.AppendLine(line);
    }

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
