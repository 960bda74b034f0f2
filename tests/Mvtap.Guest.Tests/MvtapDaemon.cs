// The real mvtapd (the built mvtapd.dll) for one test, started as tests/Mvtap.Daemon.Tests'
// DaemonProcess does, with the lab's host namespace as the home of its lower devices and run and
// state directories inside the test's private directory. Killed on Dispose.
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Mvtap.Cli;

namespace Mvtap.Guest.Tests;

internal sealed class MvtapDaemon : IDisposable
{
    private readonly StringBuilder _output = new();
    private readonly Process _process;

    public MvtapDaemon(GuestLab lab)
    {
        RunDir = Path.Combine(lab.Dir, "run");
        var psi = Dotnet("mvtapd.dll", ["--run-dir", RunDir, "--state-dir", Path.Combine(lab.Dir, "state"), "--netns", lab.Host]);
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!File.Exists(Path.Combine(RunDir, "mvtapd.sock")) || Cli("link", "show").Status != 0)
            {
                if (_process.HasExited) throw new InvalidOperationException($"mvtapd exited with {_process.ExitCode}:\n{Output}");
                if (DateTime.UtcNow > deadline) throw new TimeoutException($"mvtapd did not come up within 60 s:\n{Output}");
                Thread.Sleep(100);
            }
        }
        catch { Dispose(); throw; }
    }

    public string RunDir { get; }
    public string Output { get { lock (_output) return _output.ToString(); } }

    private void Append(string? line)
    {
        if (line is not null) lock (_output) _output.AppendLine(line);
    }

    /// <summary>`dotnet DLL ARGS` for a tool built next to the tests (mvtapd.dll, mvtap.dll).</summary>
    public static ProcessStartInfo Dotnet(string dll, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, dll));
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
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

    /// <summary>A macvtap endpoint on the lab's lower, up; returns its index N (tapN).</summary>
    public int AddMacvtap(string name, string mode, string mac)
    {
        MustCli("link", "add", "link", GuestLab.Lower, "name", name, "type", "macvtap", "mode", mode, "address", mac);
        MustCli("link", "set", name, "up");
        using var json = JsonDocument.Parse(MustCli("-j", "link", "show", name));
        return json.RootElement[0].GetProperty("ifindex").GetInt32();
    }

    /// <summary>Waits (bounded) for an attachment point of the daemon's to appear.</summary>
    public string WaitForFile(string path)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!File.Exists(path))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{path} did not appear within 30 s:\nmvtapd:\n{Output}");
            Thread.Sleep(100);
        }
        return path;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException) { }
        _process.Dispose();
    }
}
