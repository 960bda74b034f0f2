// `mvtap capture` against the real daemon, during real traffic between namespaces (LowerLab: g0, a
// macvlan endpoint in the guest namespace, reaching the external host through low0): the file it
// writes holds, byte for byte and in order in each direction, the frames an AF_PACKET observer
// (tcpdump on g0 in the guest namespace) saw, read back by tcpdump and by tshark (interface name,
// epb_flags direction); `-w - | tcpdump -r -` prints frames while the capture still runs; a
// reader that stops reading loses captured frames, counted in the Interface Statistics Block and
// the command's summary, while a transfer through the endpoint still completes whole.
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Mvtap.Cli.Demo;

namespace Mvtap.Daemon.Tests.Capture;

public sealed class CaptureTrafficTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mvtap-capture-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void CaptureOfPingAndTcpTransferHoldsTheObserversFramesByteForByteInBothDirections()
    {
        using var lab = new LowerLab();
        using var d = lab.StartWithGuest();
        string observed = Path.Combine(_dir, "observer.pcap"), captured = Path.Combine(_dir, "g0.pcapng");
        using var observer = CaptureProcess.Observer(lab.Guest, "g0", observed);
        using var capture = CaptureProcess.Start(d, "g0", "-w", captured);
        WaitUntilCapturing(lab, captured);
        string dropsBefore = DropsOnThePath(lab);

        Assert.True(Ping(lab.Guest, "-c", "10", "-i", "0.05", "-s", "1000"), "pings of 1000 bytes");
        var payload = RandomNumberGenerator.GetBytes(1 << 20);
        var hash = TcpTransfer.SendAndHash(lab.Ext, LowerLab.ExtIp, lab.Guest, 5417, payload, TimeSpan.FromSeconds(120));
        Assert.Equal(SHA256.HashData(payload), hash);
        // a last ping, once the observer has read its reply from its socket, it has read everything before
        Assert.True(Ping(lab.Guest, "-c", "1", "-s", "1200"), "the last ping");
        TestNet.WaitFor(() => FrameDumps.Tcpdump(observed, "icmp and greater 1240").Count, n => n >= 2, seconds: 60);

        Assert.Equal(0, CaptureProcess.Interrupt(capture));
        var summary = capture.StandardError.ReadToEnd();
        Assert.Contains("packets captured", summary);
        Assert.Matches("(?m)^0 packets dropped by mvtapd", summary);
        MvtapdProcess.Kill(observer.Id, CaptureProcess.SIGINT);
        Assert.True(observer.WaitForExit(30_000), "the observer ends on SIGINT");
        var observerSummary = observer.StandardError.ReadToEnd();
        Assert.Matches("(?m)^0 packets dropped by kernel", observerSummary);

        const string filter = "tcp port 5417 or (icmp and greater 1000)";
        string mac = GuestMac(lab);
        var (seenOut, seenIn) = ByDirection(FrameDumps.Tcpdump(observed, filter), mac);
        var (capOut, capIn) = ByDirection(FrameDumps.Tcpdump(captured, filter), mac);
        Assert.True(seenOut.Count >= 11 && seenIn.Count >= 10, $"the observer saw the traffic: {seenOut.Count} out, {seenIn.Count} in");
        // the observer sees g0's frames before the veth pair carries them to mvtapd and mvtapd's after;
        // if the lists ever differ, the message says what the kernel counted as dropped on that path
        string drops = $"drops before the traffic: {dropsBefore}; after: {DropsOnThePath(lab)}";
        Assert.True(seenOut.SequenceEqual(capOut), $"out: {Difference(seenOut, capOut)}; {drops}");
        Assert.True(seenIn.SequenceEqual(capIn), $"in: {Difference(seenIn, capIn)}; {drops}");

        // the direction in epb_flags is the frame's: out when g0 sent it
        var file = PcapngFile.Read(File.ReadAllBytes(captured));
        Assert.Equal(["g0"], file.Interfaces);
        Assert.NotEmpty(file.Packets);
        foreach (var p in file.Packets)
            Assert.Equal(FrameDumps.Hex(p.Bytes)[12..24] == mac ? 2u : 1u, p.Direction);
        var stats = Assert.Single(file.Statistics);
        Assert.Equal((ulong)file.Packets.Count, stats.Delivered);
        Assert.Equal(0ul, stats.Dropped);

        var shark = FrameDumps.Tshark(captured, "tcp.port == 5417 or (icmp and frame.len >= 1000)");
        Assert.All(shark, f => Assert.Equal("g0", f.Interface));
        Assert.Equal(capOut.Count, shark.Count(f => f.Direction == 2));
        Assert.Equal(capIn.Count, shark.Count(f => f.Direction == 1));
        Assert.Equal(capOut.Select(h => h.Length / 2).Concat(capIn.Select(h => h.Length / 2)).Order(),
            shark.Where(f => f.Direction == 2).Concat(shark.Where(f => f.Direction == 1)).Select(f => f.Length).Order());
    }

    [Fact]
    public async Task CaptureIntoTcpdumpThroughAPipePrintsFramesWhileItRuns()
    {
        using var lab = new LowerLab();
        using var d = lab.StartWithGuest();
        using var capture = CaptureProcess.Start(d, "g0", "in", "-w", "-");
        var psi = new ProcessStartInfo("tcpdump") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-r", "-", "-nn", "-l", "-e" }) psi.ArgumentList.Add(a);
        using var tcpdump = Process.Start(psi)!;
        _ = tcpdump.StandardError.ReadToEndAsync();
        var pump = capture.StandardOutput.BaseStream.CopyToAsync(tcpdump.StandardInput.BaseStream)
            .ContinueWith(_ => tcpdump.StandardInput.Close(), TaskScheduler.Default);
        var lines = new List<string>();
        var reader = Task.Run(() => { for (string? l; (l = tcpdump.StandardOutput.ReadLine()) is not null;) lock (lines) lines.Add(l); });

        var pings = Task.Run(() => Ping(lab.Guest, "-c", "200", "-i", "0.05"));
        string Lines() { lock (lines) return string.Join('\n', lines); }
        TestNet.WaitFor(Lines, l => l.Contains("ICMP echo reply", StringComparison.Ordinal), seconds: 60);
        Assert.False(capture.HasExited, "tcpdump printed a frame while the capture ran");
        Assert.DoesNotContain("ICMP echo request", Lines()); // "in" only: what was delivered to g0

        Assert.Equal(0, CaptureProcess.Interrupt(capture));
        await pump.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(tcpdump.WaitForExit(30_000), "tcpdump ends with the stream");
        await reader.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, tcpdump.ExitCode);
        await pings.WaitAsync(TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task AReaderThatStopsReadingLosesCountedFramesWhileTheTransferCompletes()
    {
        using var lab = new LowerLab();
        using var d = lab.StartWithGuest();
        using var capture = CaptureProcess.Start(d, "g0", "-w", "-");
        // the section's first blocks: the command runs (and takes SIGINT as a stop)
        var output = new MemoryStream();
        var head = new byte[4096];
        output.Write(head, 0, await capture.StandardOutput.BaseStream.ReadAsync(head).AsTask().WaitAsync(TimeSpan.FromSeconds(60)));
        // then nobody reads its standard output: the pipe, the socket and then the ring fill up
        var payload = RandomNumberGenerator.GetBytes(32 << 20);
        var hash = TcpTransfer.SendAndHash(lab.Ext, LowerLab.ExtIp, lab.Guest, 5418, payload, TimeSpan.FromSeconds(300));
        Assert.Equal(SHA256.HashData(payload), hash);
        Assert.False(capture.HasExited);

        var drain = capture.StandardOutput.BaseStream.CopyToAsync(output);
        int status = CaptureProcess.Interrupt(capture);
        await drain.WaitAsync(TimeSpan.FromSeconds(30));
        var summary = capture.StandardError.ReadToEnd();
        Assert.True(status == 0, $"mvtap capture exited {status}: {summary}");

        var file = PcapngFile.Read(output.ToArray());
        var stats = Assert.Single(file.Statistics);
        Assert.True(stats.Dropped > 0, $"frames were lost while nobody read: {summary}");
        Assert.Equal((ulong)file.Packets.Count, stats.Delivered);
        Assert.Equal(stats.Received, stats.Delivered + stats.Dropped);
        Assert.Contains($"{stats.Delivered} packets captured", summary);
        Assert.Contains($"{stats.Dropped} packets dropped by mvtapd", summary);
    }

    // pings of the default size until one is in the file: the capture's taps are in
    private static void WaitUntilCapturing(LowerLab lab, string file) =>
        TestNet.WaitFor(() => { Ping(lab.Guest, "-c", "1", "-W", "1"); return CaptureProcess.PacketsSoFar(file); }, n => n > 0, seconds: 60);

    private static bool Ping(string ns, params string[] args) =>
        Sh.Try("ip", ["netns", "exec", ns, "ping", "-q", .. args, LowerLab.ExtIp]).Status == 0;

    private static string GuestMac(LowerLab lab)
    {
        var (_, json) = Shell.Run("ip", "-n", lab.Guest, "-j", "link", "show", "g0");
        return JsonDocument.Parse(json).RootElement[0].GetProperty("address").GetString()!.Replace(":", "", StringComparison.Ordinal);
    }

    /// <summary>What the kernel counted as dropped between g0 and mvtapd's socket: both ends of the
    /// veth pair (a full backlog counts on the sending end) and every CPU's softnet backlog drops.</summary>
    private static string DropsOnThePath(LowerLab lab)
    {
        var g0 = JsonDocument.Parse(Shell.Run("ip", "-n", lab.Guest, "-s", "-j", "link", "show", "g0").Item2).RootElement[0];
        int outerIndex = g0.GetProperty("link_index").GetInt32();
        var outer = JsonDocument.Parse(Shell.Run("ip", "-n", lab.Host, "-s", "-j", "link", "show").Item2).RootElement
            .EnumerateArray().FirstOrDefault(l => l.GetProperty("ifindex").GetInt32() == outerIndex);
        var softnet = File.ReadLines("/proc/net/softnet_stat").Sum(l => Convert.ToInt64(l.Split(' ')[1], 16));
        return $"g0 {Counted(g0)}, outer end {(outer.ValueKind == JsonValueKind.Undefined ? "not found" : Counted(outer))}, softnet {softnet}";

        static string Counted(JsonElement link)
        {
            var s = link.GetProperty("stats64");
            return $"tx dropped {s.GetProperty("tx").GetProperty("dropped")} rx dropped {s.GetProperty("rx").GetProperty("dropped")}";
        }
    }

    /// <summary>Where two frame lists part: the index, both lengths and each side's frame length there.</summary>
    private static string Difference(List<string> seen, List<string> captured)
    {
        int i = 0;
        while (i < seen.Count && i < captured.Count && seen[i] == captured[i]) i++;
        string At(List<string> l) => i < l.Count ? $"{l[i].Length / 2} bytes" : "none";
        return $"observer {seen.Count} frames, capture {captured.Count}, first difference at {i}: observer {At(seen)}, capture {At(captured)}";
    }

    private static (List<string> Out, List<string> In) ByDirection(List<string> frames, string mac) =>
        ([.. frames.Where(f => f[12..24] == mac)], [.. frames.Where(f => f[12..24] != mac)]);
}
