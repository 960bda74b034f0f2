// Test scaffolding: `mvtap capture ...` as a process of its own against a test's mvtapd (a real
// process, so Ctrl-C is a real SIGINT and `-w -` a real pipe), and the AF_PACKET observer a test
// compares it with: tcpdump on the same interface inside its namespace. Both are ended by pid.
using System.Diagnostics;

namespace Mvtap.Daemon.Tests.Capture;

internal static class CaptureProcess
{
    public const int SIGINT = 2;
    public const int SIGTERM = 15;

    /// <summary>Starts `mvtap --run-dir RUNDIR capture ARGS` with standard output and error redirected.</summary>
    public static Process Start(MvtapdProcess d, params string[] args) =>
        Process.Start(MvtapdProcess.Dotnet("mvtap.dll", ["--run-dir", d.RunDir, "capture", .. args]))!;

    /// <summary>SIGINT (Ctrl-C), then the exit status within a bound.</summary>
    public static int Interrupt(Process p) => Signal(p, SIGINT);

    /// <summary><paramref name="signal"/>, then the exit status within a bound.</summary>
    public static int Signal(Process p, int signal)
    {
        if (!p.HasExited) MvtapdProcess.Kill(p.Id, signal);
        if (!p.WaitForExit(60_000)) { p.Kill(true); Assert.Fail($"mvtap capture did not end on signal {signal}"); }
        return p.ExitCode;
    }

    /// <summary>Starts `mvtap --run-dir RUNDIR capture ARGS` as a shell's background job would: with SIGINT
    /// ignored (inherited through exec, as a non-interactive shell starts its `&amp;` commands).</summary>
    public static Process StartWithSigintIgnored(MvtapdProcess d, params string[] args)
    {
        var psi = new ProcessStartInfo("sh") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["-c", "trap '' INT; exec \"$@\"", "sh", "dotnet", Path.Combine(AppContext.BaseDirectory, "mvtap.dll"),
                     "--run-dir", d.RunDir, "capture", .. args])
            psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    /// <summary>Whether process <paramref name="pid"/> ignores <paramref name="signal"/> (SigIgn in /proc/PID/status).</summary>
    public static bool Ignores(int pid, int signal)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        ulong mask = Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16);
        return (mask & (1ul << (signal - 1))) != 0;
    }

    /// <summary>tcpdump writing what it sees on <paramref name="ifname"/> in <paramref name="ns"/> to
    /// <paramref name="file"/>; returns once it listens (the rest of its standard error is its summary).</summary>
    public static Process Observer(string ns, string ifname, string file)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "netns", "exec", ns, "tcpdump", "-i", ifname, "-nn", "-U", "-s", "262144", "-B", "65536", "-w", file }) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        var line = p.StandardError.ReadLine();
        Assert.True(line is not null && line.Contains("listening on", StringComparison.Ordinal), $"tcpdump: {line}");
        return p;
    }

    /// <summary>Packets in a capture file being written, or -1 while what is there is not whole blocks yet.</summary>
    public static int PacketsSoFar(string file)
    {
        try { return PcapngFile.Read(File.ReadAllBytes(file)).Packets.Count; }
        catch (Exception e) when (e is Xunit.Sdk.XunitException or ArgumentOutOfRangeException or IOException) { return -1; }
    }
}
