// How a capture starts and ends, against the real daemon: a lower and an endpoint captured at once
// (one interface block each) ending by itself at `count`; a capture ending when its endpoint is
// deleted, on SIGTERM (also when started with SIGINT ignored, as a shell's background job), or when
// mvtapd stops, each with its statistics and summary; a client that may not use the control socket refused, and one the
// socket group admits heard; malformed capture requests (outside input) refused in words.
using Mvtap.Control;
using Mvtap.Core.Model;

namespace Mvtap.Daemon.Tests.Capture;

public sealed class CaptureSessionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mvtap-capture-").FullName;

    public CaptureSessionTests() => File.SetUnixFileMode(_dir, (UnixFileMode)0b111_101_101);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task ALowerAndAnEndpointCapturedAtOnceEndAtCount()
    {
        using var lab = new LowerLab();
        using var d = lab.StartWithGuest();
        string file = Path.Combine(_dir, "both.pcapng");
        using var capture = CaptureProcess.Start(d, "low0", "g0", "count", "6", "-w", file);
        using var pinging = new CancellationTokenSource();
        var pings = Task.Run(() => { while (!pinging.IsCancellationRequested) Sh.Try("ip", "netns", "exec", lab.Guest, "ping", "-q", "-c", "1", "-W", "1", LowerLab.ExtIp); });
        try
        {
            Assert.True(capture.WaitForExit(60_000), "the capture ends after 6 frames");
        }
        finally
        {
            pinging.Cancel();
        }
        Assert.Equal(0, capture.ExitCode);
        Assert.Contains("6 packets captured", capture.StandardError.ReadToEnd());
        var f = PcapngFile.Read(File.ReadAllBytes(file));
        Assert.Equal(["low0", "g0"], f.Interfaces);
        Assert.Equal(6, f.Packets.Count);
        Assert.Equal(2, f.Statistics.Count);
        Assert.Equal(6ul, f.Statistics.Aggregate(0ul, (n, s) => n + s.Delivered));
        // a ping through both: each interface has frames of either direction
        Assert.Contains(f.Packets, p => p.Interface == 0);
        Assert.Contains(f.Packets, p => p.Interface == 1);
        await pings.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public void DeletingTheCapturedEndpointEndsTheCaptureWithItsStatistics()
    {
        using var lab = new LowerLab();
        using var d = lab.StartWithGuest();
        string file = Path.Combine(_dir, "g0.pcapng");
        using var capture = CaptureProcess.Start(d, "g0", "-w", file);
        TestNet.WaitFor(() => { Sh.Try("ip", "netns", "exec", lab.Guest, "ping", "-q", "-c", "1", "-W", "1", LowerLab.ExtIp); return CaptureProcess.PacketsSoFar(file); },
            n => n > 0, seconds: 60);
        d.MustCli("link", "del", "g0");
        Assert.True(capture.WaitForExit(60_000), "the capture ends with its endpoint");
        var err = capture.StandardError.ReadToEnd();
        Assert.True(capture.ExitCode == 0, err);
        Assert.Contains("mvtap capture: g0 was deleted", err);
        var f = PcapngFile.Read(File.ReadAllBytes(file));
        var stats = Assert.Single(f.Statistics);
        Assert.Equal((ulong)f.Packets.Count, stats.Delivered);
        Assert.True(d.IsRunning);
    }

    [Fact]
    public void SigtermEndsACaptureAsCtrlCDoesWithItsStatisticsAndSummary()
    {
        using var lab = new LowerLab();
        using var d = lab.StartWithGuest();
        string file = Path.Combine(_dir, "term.pcapng");
        using var capture = CaptureProcess.Start(d, "g0", "-w", file);
        SeeFrames(lab, file);
        Assert.Equal(0, CaptureProcess.Signal(capture, CaptureProcess.SIGTERM));
        AssertEndedWithStatistics(capture, file);
    }

    // A background job of a non-interactive shell starts with SIGINT ignored; .NET leaves an ignored
    // SIGINT ignored (as a program should), so such a capture is ended with SIGTERM (README).
    [Fact]
    public void ACaptureStartedWithSigintIgnoredKeepsItIgnoredAndEndsOnSigterm()
    {
        using var lab = new LowerLab();
        using var d = lab.StartWithGuest();
        string file = Path.Combine(_dir, "bg.pcapng");
        using var capture = CaptureProcess.StartWithSigintIgnored(d, "g0", "-w", file);
        SeeFrames(lab, file);
        Assert.True(CaptureProcess.Ignores(capture.Id, CaptureProcess.SIGINT), "SIGINT is still ignored once the capture runs");
        Assert.False(CaptureProcess.Ignores(capture.Id, CaptureProcess.SIGTERM), "SIGTERM is caught");
        Assert.Equal(0, CaptureProcess.Signal(capture, CaptureProcess.SIGTERM));
        AssertEndedWithStatistics(capture, file);
    }

    [Fact]
    public void MvtapdStoppingEndsACaptureWithItsStatisticsAndSummary()
    {
        using var lab = new LowerLab();
        using var d = lab.StartWithGuest();
        string file = Path.Combine(_dir, "stop.pcapng");
        using var capture = CaptureProcess.Start(d, "g0", "-w", file);
        SeeFrames(lab, file);
        d.Stop();
        Assert.True(capture.WaitForExit(60_000), "the capture ends with mvtapd");
        var err = AssertEndedWithStatistics(capture, file);
        Assert.Contains("mvtap capture: mvtapd stopped", err);
    }

    // pings from the guest until the capture file holds a frame
    private static void SeeFrames(LowerLab lab, string file) =>
        TestNet.WaitFor(() => { Sh.Try("ip", "netns", "exec", lab.Guest, "ping", "-q", "-c", "1", "-W", "1", LowerLab.ExtIp); return CaptureProcess.PacketsSoFar(file); },
            n => n > 0, seconds: 60);

    // exit status 0, the file ends with its Interface Statistics Block, the summary on standard error
    private static string AssertEndedWithStatistics(System.Diagnostics.Process capture, string file)
    {
        var err = capture.StandardError.ReadToEnd();
        Assert.True(capture.ExitCode == 0, err);
        var f = PcapngFile.Read(File.ReadAllBytes(file));
        Assert.Equal(5u, f.LastBlockType);
        var stats = Assert.Single(f.Statistics);
        Assert.Equal((ulong)f.Packets.Count, stats.Delivered);
        Assert.Contains($"{f.Packets.Count} packets captured", err);
        Assert.Contains("packets dropped by mvtapd", err);
        return err;
    }

    [Fact]
    public void OnlyClientsThatMayUseTheControlSocketMayCapture()
    {
        using var nobody = new NobodyCli();
        string run = Path.Combine(_dir, "run"), state = Path.Combine(_dir, "state");
        using (var d = new MvtapdProcess(run, state))
        {
            d.StartAndWait();
            d.MustCli("link", "add", "link", "sim0", "name", "m0", "type", "macvlan");
            var (status, err) = nobody.Run(run, "capture", "m0", "-w", "-");
            Assert.Equal(1, status);
            Assert.Contains("Permission denied", err);
        }
        using (var d = new MvtapdProcess(run, state, "--socket-group", $"{NobodyCli.Id}"))
        {
            d.StartAndWait();
            // admitted: the daemon itself answers (a sim lower carries no frames)
            var (status, err) = nobody.Run(run, "capture", "m0", "-w", "-");
            Assert.Equal(1, status);
            Assert.Contains("m0 is on sim0, a sim lower: it carries no frames to capture", err);
        }
    }

    [Theory]
    [InlineData(null, null, null, null, "\"dev\" argument is required")]
    [InlineData("m0", "sideways", null, null, "direction \"sideways\" is not in or out")]
    [InlineData("m0", null, 0L, null, "count 0 is not a positive number")]
    [InlineData("m0", null, null, 0, "snaplen 0 is not between 1 and 262144")]
    [InlineData("m0", null, null, 262145, "snaplen 262145 is not between 1 and 262144")]
    [InlineData("nosuch", null, null, null, "Cannot find device \"nosuch\"")]
    [InlineData("bad/name", null, null, null, "bad/name")]
    public void MalformedCaptureRequestsAreRefusedInWords(string? name, string? direction, long? count, int? snaplen, string words)
    {
        using var d = new MvtapdProcess(Path.Combine(_dir, "run"), Path.Combine(_dir, "state"));
        d.StartAndWait();
        d.MustCli("link", "add", "link", "sim0", "name", "m0", "type", "macvlan");
        var client = new ControlClient(d.SocketPath);
        var response = client.Send(new CaptureRequest { Names = name is null ? null : [name], Direction = direction, Count = count, Snaplen = snaplen });
        Assert.False(response.Ok);
        Assert.Contains(words, response.Error!.Message);
        var many = client.Send(new CaptureRequest { Names = [.. Enumerable.Range(0, 65).Select(i => $"m{i}")] });
        Assert.Contains("at most 64", many.Error!.Message);
        Assert.Equal((int)Errno.ENODEV, client.Send(new CaptureRequest { Names = ["nosuch", "m0"] }).Error!.Errno);
        Assert.True(d.IsRunning);
    }
}
