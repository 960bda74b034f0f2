// One dpdk-testpmd process as a virtio-user frontend (it plays the guest) on a vhost-user
// socket: no hugepages (--no-huge backs memory with a shared memfd), a private file prefix
// whose /var/run/dpdk directory is removed afterwards, and the final "Accumulated forward
// statistics" parsed from its output. Stopped with SIGTERM (it prints its totals and closes
// the port cleanly) or SIGKILL (a frontend that vanishes).
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Mvtap.Daemon.Tests.Attachments;

internal sealed class Testpmd : IDisposable
{
    public const string Binary = "/usr/bin/dpdk-testpmd";
    private static int _counter;
    private readonly StringBuilder _output = new();
    private readonly Process _process;
    private readonly string _prefix;

    public static bool Available => File.Exists(Binary);

    private Testpmd(Process process, string prefix)
    {
        _process = process;
        _prefix = prefix;
    }

    public string Output { get { lock (_output) return _output.ToString(); } }

    /// <param name="vdev">the --vdev argument (net_virtio_user0,path=...,queues=N,mac=...).</param>
    /// <param name="mode">txonly, rxonly, io, mac...</param>
    /// <param name="lcore">the CPU the forwarding lcore runs on.</param>
    public static Testpmd Start(string vdev, string mode, int queues = 1, int frameSize = 64, string? peer = null, int lcore = 0,
        IEnumerable<string>? extra = null, bool interactive = false)
    {
        string prefix = $"mvtt{Environment.ProcessId}x{Interlocked.Increment(ref _counter)}";
        // stdbuf: testpmd's stdout is a pipe here, fully buffered; an interactive "stop" would
        // print its totals into the buffer and nowhere else. (stdbuf execs testpmd: same pid.)
        var psi = new ProcessStartInfo("stdbuf")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        int other = lcore == 0 ? 1 : 0;
        string[] args =
        [
            "-oL", Binary, "--lcores", $"0@{other},1@{lcore}", "--no-huge", "-m", "512", "--no-pci", "--no-shconf", $"--file-prefix={prefix}",
            "--vdev", vdev, "--",
            "--nb-cores=1", $"--forward-mode={mode}", $"--rxq={queues}", $"--txq={queues}", $"--txpkts={frameSize}",
            "--total-num-mbufs=8192", "--txd=512", "--rxd=512",
        ];
        foreach (var a in args) psi.ArgumentList.Add(a);
        // interactive: started with "start", stopped with "stop" while the port stays open, so
        // the backend drains what is left in the rings before the totals are compared
        foreach (var a in interactive ? new[] { "-i" } : ["--auto-start", "--stats-period=1"]) psi.ArgumentList.Add(a);
        if (peer is not null) psi.ArgumentList.Add($"--eth-peer=0,{peer}");
        foreach (var a in extra ?? []) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        var t = new Testpmd(p, prefix);
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (t._output) t._output.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (t._output) t._output.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (interactive)
        {
            p.StandardInput.WriteLine("start");
            p.StandardInput.Flush();
        }
        return t;
    }

    /// <summary>Interactive only: "stop" (forwarding ends, the port stays open) and the totals it prints.</summary>
    public (long Rx, long Tx) StopForwarding()
    {
        int before = Output.Length;
        _process.StandardInput.WriteLine("stop");
        _process.StandardInput.Flush();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var text = Output;
            int at = text.IndexOf("Accumulated forward statistics for all ports", before, StringComparison.Ordinal);
            if (at >= 0 && text.IndexOf("+++++", text.IndexOf("TX-packets", at, StringComparison.Ordinal) + 1, StringComparison.Ordinal) > 0)
                return (FirstCounter(text[at..], "RX-packets"), FirstCounter(text[at..], "TX-packets"));
            if (_process.HasExited) break;
            Thread.Sleep(100);
        }
        throw new TimeoutException($"testpmd printed no totals after stop:\n{Output}");
    }

    /// <summary>Waits (bounded) until testpmd's periodic statistics show the port forwarding,
    /// i.e. the link is up and the vhost-user handshake completed.</summary>
    public void WaitForStats(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException($"testpmd exited with {_process.ExitCode}:\n{Output}");
            if (Output.Contains("NIC statistics for port 0", StringComparison.Ordinal)) return;
            Thread.Sleep(100);
        }
        throw new TimeoutException($"testpmd did not start forwarding:\n{Output}");
    }

    /// <summary>Waits (bounded) until the periodic statistics report at least <paramref name="packets"/>
    /// in the given direction ("RX-packets" or "TX-packets").</summary>
    public void WaitForPackets(string counter, long packets, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException($"testpmd exited with {_process.ExitCode}:\n{Output}");
            if (LastCounter(Output, counter) >= packets) return;
            Thread.Sleep(100);
        }
        throw new TimeoutException($"testpmd did not reach {packets} {counter}:\n{Output}");
    }

    /// <summary>SIGTERM: testpmd stops forwarding, prints its totals and closes the port. Returns (RX, TX).</summary>
    public (long Rx, long Tx) Stop()
    {
        // kill(1): this test project compiles no unsafe code, which LibraryImport needs
        using (var k = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) k.WaitForExit(10_000);
        if (!_process.WaitForExit(30_000))
        {
            _process.Kill();
            throw new TimeoutException($"testpmd did not stop on SIGTERM:\n{Output}");
        }
        _process.WaitForExit();
        var text = Output;
        int at = text.LastIndexOf("Accumulated forward statistics for all ports", StringComparison.Ordinal);
        if (at < 0) throw new InvalidOperationException($"no totals in testpmd's output:\n{text}");
        var totals = text[at..];
        return (FirstCounter(totals, "RX-packets"), FirstCounter(totals, "TX-packets"));
    }

    /// <summary>SIGKILL: the frontend vanishes without a word, as a crashed VM would.</summary>
    public void Kill()
    {
        if (_process.HasExited) return;
        _process.Kill();
        _process.WaitForExit(30_000);
    }

    private static long FirstCounter(string text, string name)
    {
        var m = Regex.Match(text, name + @":\s+(\d+)");
        return m.Success ? long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : -1;
    }

    private static long LastCounter(string text, string name)
    {
        var ms = Regex.Matches(text, name + @":\s+(\d+)");
        return ms.Count == 0 ? -1 : long.Parse(ms[^1].Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
        try { Directory.Delete(Path.Combine("/var/run/dpdk", _prefix), recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
