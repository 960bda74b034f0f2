// An endpoint's owner who may not use the control socket captures the endpoint on its own capture
// socket (<run-dir>/capture/NAME.sock), against the real daemon with real frames: two macvtap
// endpoints owned by two unprivileged uids, each with a stream guest; `mvtap capture oa` run as
// oa's owner (setpriv, no groups) finds the socket by itself and writes oa's frames both ways. The
// other uid is refused (the file's mode, and SO_PEERCRED when the mode is widened); the owner
// cannot capture the other endpoint, the lower or anything but a capture through its socket;
// malformed, oversized and cut-off requests are dropped and counted while the socket goes on
// serving; an owner runs at most 4 captures at once; the socket follows a rename, comes back with a restart and goes with the endpoint.
using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Mvtap.Control;
using Mvtap.Daemon.Tests.Attachments;
using static Mvtap.Tests.Stream.StreamClient;

namespace Mvtap.Daemon.Tests.Capture;

public sealed class OwnerCaptureTests : IDisposable
{
    private const string MacA = "02:4d:56:00:0c:0a", MacB = "02:4d:56:00:0c:0b";
    private const int Owner = ReadableBuildCopy.NobodyId, Other = ReadableBuildCopy.NobodyId - 1;
    private readonly string _out = Directory.CreateTempSubdirectory("mvtap-owner-capture-").FullName;

    // the owner writes its capture file here
    public OwnerCaptureTests() => File.SetUnixFileMode(_out, (UnixFileMode)0b111_111_111);

    public void Dispose() => Directory.Delete(_out, recursive: true);

    [Fact]
    public void TheOwnerCapturesItsEndpointOnItsOwnSocketAndNothingElse()
    {
        using var lab = new MacvtapLab();
        using var copy = new ReadableBuildCopy();
        int a = lab.AddMacvtap("oa", MacA, "owner", $"{Owner}");
        int b = lab.AddMacvtap("ob", MacB, "owner", $"{Other}");
        string oa = ControlPaths.OwnerCapturePath(lab.RunDir, "oa");
        Assert.Equal($"{Owner} 600", Sh.Out("stat", "-c", "%u %a", oa).Trim());
        Assert.Equal($"{Other} 600", Sh.Out("stat", "-c", "%u %a", ControlPaths.OwnerCapturePath(lab.RunDir, "ob")).Trim());

        // the owner, not in the socket group (there is none), captures oa while its guest talks to ob's
        string file = Path.Combine(_out, "oa.pcapng");
        using var capture = copy.StartAs(Owner, "mvtap.dll", ["--run-dir", lab.RunDir, "capture", "oa", "count", "4", "-w", file]);
        var sent = new List<byte[]>();
        using (var ga = Connect(lab.StreamPath(a)))
        using (var gb = Connect(lab.StreamPath(b)))
        {
            var deadline = DateTime.UtcNow.AddSeconds(90);
            for (byte i = 0; !capture.HasExited && DateTime.UtcNow < deadline; i++)
            {
                var outbound = Frame(60 + i % 64, MacB, MacA, i);
                var inbound = Frame(70 + i % 64, MacA, MacB, i);
                Send(ga, outbound);
                Send(gb, inbound);
                sent.Add(outbound);
                sent.Add(inbound);
                Receive(gb);
                Receive(ga);
            }
        }
        Assert.True(capture.WaitForExit(60_000), "the owner's capture ends at its count");
        var err = capture.StandardError.ReadToEnd();
        Assert.True(capture.ExitCode == 0, err);
        Assert.Contains("4 packets captured", err);
        var f = PcapngFile.Read(File.ReadAllBytes(file));
        Assert.Equal(["oa"], f.Interfaces);
        Assert.Equal(4, f.Packets.Count);
        Assert.All(f.Packets, p => Assert.Contains(sent, s => s.AsSpan().SequenceEqual(p.Bytes)));
        Assert.Contains(f.Packets, p => p.Direction == 2 && p.Bytes.AsSpan(6, 6).SequenceEqual(Frame(60, MacB, MacA, 0).AsSpan(6, 6))); // out: sent by oa's guest
        Assert.Contains(f.Packets, p => p.Direction == 1 && p.Bytes.AsSpan(6, 6).SequenceEqual(Frame(60, MacA, MacB, 0).AsSpan(6, 6))); // in: delivered to it
        Assert.Equal(5u, f.LastBlockType);

        // another unprivileged uid may open neither the control socket nor oa's
        var (status, _, otherErr) = Cli(copy, Other, lab.RunDir, "capture", "oa", "-w", "-");
        Assert.Equal(1, status);
        Assert.Contains("Permission denied", otherErr);
        // the owner reaches nothing else through its socket: ob's is not its own; a lower or another
        // endpoint named beside oa is refused on oa's socket, in ip's words
        Assert.Contains("Permission denied", Cli(copy, Owner, lab.RunDir, "capture", "ob", "-w", "-").Err);
        Assert.Contains($"Error: Operation not permitted: {oa} serves captures of oa only.", Cli(copy, Owner, lab.RunDir, "capture", "oa", "ob", "-w", "-").Err);
        Assert.Contains($"Error: Operation not permitted: {oa} serves captures of oa only.", Cli(copy, Owner, lab.RunDir, "capture", "oa", "low0", "-w", "-").Err);
        Assert.Equal((int)Core.Model.Errno.EPERM, RawControl.Send(oa, new LinkShowRequest()).Error!.Errno);
        Assert.Equal((int)Core.Model.Errno.EPERM, RawControl.Send(oa, new LinkDelRequest { Name = "ob" }).Error!.Errno);
        Assert.Equal((int)Core.Model.Errno.EPERM, RawControl.Send(oa, new CaptureRequest { Names = ["ob"] }).Error!.Errno);
        Assert.Equal(0, lab.Daemon.Cli("link", "show", "ob").Status);

        // the file's mode is not the only guard: widened, the other uid is still refused (SO_PEERCRED)
        File.SetUnixFileMode(oa, (UnixFileMode)0b110_110_110);
        var widened = Cli(copy, Other, lab.RunDir, "capture", "oa", "-w", "-");
        Assert.Equal(1, widened.Status);
        Assert.Contains($"Error: Operation not permitted: {oa} is oa's owner's.", widened.Err);
    }

    [Fact]
    public void HostileRequestsOnACaptureSocketAreDroppedAndCountedAndItFollowsItsEndpoint()
    {
        using var lab = new MacvtapLab();
        lab.AddMacvtap("oh", MacA, "owner", $"{Owner}");
        string oh = ControlPaths.OwnerCapturePath(lab.RunDir, "oh");
        var huge = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(huge, uint.MaxValue);
        Assert.Contains("exceeds the maximum", Decode(RawControl.Exchange(oh, huge)));
        Assert.Contains("malformed request", Decode(RawControl.Exchange(oh, RawControl.Frame(Encoding.UTF8.GetBytes("{\"kind\": [ not json")))));
        using (var cut = Connect(oh)) cut.Send([0, 0, 1, 0, 1, 2, 3]); // 256 bytes announced, 3 sent, then closed
        var rng = new Random(15);
        for (int i = 0; i < 50; i++)
        {
            var junk = new byte[rng.Next(0, 300)];
            rng.NextBytes(junk);
            RawControl.Exchange(oh, RawControl.Frame(junk));
        }
        TestNet.WaitFor(() => lab.Daemon.Output, o => o.Contains("(53 dropped so far)"), seconds: 60);
        // still serving: a capture of oh is answered (and ended at once by closing the connection)
        Assert.True(RawControl.Send(oh, new CaptureRequest { Names = ["oh"], Count = 1 }).Ok);
        // an owner runs a bounded number of captures at once (each holds a ring); one ended frees a place
        var held = Enumerable.Range(0, Daemon.Capture.OwnerCaptureSocket.MaxCaptures).Select(_ => OpenCapture(oh, "oh")).ToList();
        try
        {
            using (var extra = Connect(oh))
            {
                Send(extra, ControlCodec.EncodeRequest(new CaptureRequest { Names = ["oh"] }));
                extra.ReceiveTimeout = 10_000;
                using var stream = new NetworkStream(extra);
                Assert.Equal((int)Core.Model.Errno.EBUSY, ControlCodec.DecodeResponse(ControlFraming.ReadFrame(stream)!).Error!.Errno);
            }
            held[0].Dispose();
            TestNet.WaitFor(() => Probe(oh), ok => ok, seconds: 30);
        }
        finally
        {
            foreach (var s in held) s.Dispose();
        }

        // the socket follows the endpoint: renamed with it, made again by a restart, gone with it
        lab.Daemon.MustCli("link", "set", "oh", "name", "oj");
        string oj = ControlPaths.OwnerCapturePath(lab.RunDir, "oj");
        Assert.False(File.Exists(oh), "the old name's socket is gone");
        Assert.True(RawControl.Send(oj, new CaptureRequest { Names = ["oj"], Count = 1 }).Ok);
        Assert.Equal((int)Core.Model.Errno.EPERM, RawControl.Send(oj, new CaptureRequest { Names = ["oh"] }).Error!.Errno);
        lab.Daemon.Restart();
        Assert.Equal($"{Owner} 600", Sh.Out("stat", "-c", "%u %a", oj).Trim());
        lab.Daemon.MustCli("link", "del", "oj");
        Assert.False(File.Exists(oj), "the deleted endpoint's socket is gone");
        Assert.Empty(Directory.GetFileSystemEntries(ControlPaths.CaptureDirectory(lab.RunDir)));
    }

    // `mvtap --run-dir RUNDIR ARGS` as uid and gid <paramref name="uid"/>, no groups
    private static (int? Status, string Out, string Err) Cli(ReadableBuildCopy copy, int uid, string runDir, params string[] args) =>
        copy.RunAs(uid, "mvtap.dll", TimeSpan.FromSeconds(60), ["--run-dir", runDir, .. args]);

    // a capture of NAME asked for on PATH and accepted; it runs until the returned socket is closed
    private static Socket OpenCapture(string path, string name)
    {
        var s = Connect(path);
        Send(s, ControlCodec.EncodeRequest(new CaptureRequest { Names = [name] }));
        s.ReceiveTimeout = 10_000;
        using (var stream = new NetworkStream(s, ownsSocket: false))
            Assert.True(ControlCodec.DecodeResponse(ControlFraming.ReadFrame(stream)!).Ok, "a capture within the limit is accepted");
        return s;
    }

    // whether one more capture is accepted now (it ends at once)
    private static bool Probe(string path) => RawControl.Send(path, new CaptureRequest { Names = [Path.GetFileNameWithoutExtension(path)] }).Ok;

    private static string Decode(byte[] response) => ControlCodec.DecodeResponse(response).Error?.Message ?? "ok";
}
