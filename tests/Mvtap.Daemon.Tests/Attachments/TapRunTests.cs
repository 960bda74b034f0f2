// `mvtap run NAME -- COMMAND`: mvtapd creates a kernel TAP for the macvtap endpoint, relays its
// network side, and the CLI becomes COMMAND with the TAP's queue as fd 3. COMMAND here is a
// small python program standing in for the hypervisor: it writes a frame (10-byte vnet header
// + Ethernet) to fd 3 until an answer comes back on fd 3. The other guest is a C# stream client
// on a second bridge endpoint. Also: one guest at a time (refused while a stream guest is on
// the endpoint), and the TAP goes away with the command, so the next `mvtap run` is served.
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;

namespace Mvtap.Daemon.Tests.Attachments;

[Collection(TestpmdCollection.Name)]
public sealed class TapRunTests
{
    private const string MacA = "02:4d:56:00:03:0a", MacB = "02:4d:56:00:03:0b";

    // argv[1]: the hex of the frame to send; prints the hex of the first 0x88b5 frame read back
    private const string Guest = """
        import os, select, sys, time
        frame = bytes.fromhex(sys.argv[1])
        deadline = time.time() + 30
        while time.time() < deadline:
            os.write(3, bytes(10) + frame)
            end = time.time() + 0.5
            while time.time() < end:
                r, _, _ = select.select([3], [], [], 0.1)
                if not r:
                    continue
                data = os.read(3, 65536)[10:]
                if data[12:14] == b'\x88\xb5' and data[6:12] != frame[6:12]:
                    sys.stdout.write(data.hex())
                    sys.exit(0)
        sys.exit(2)
        """;

    private static byte[] Mac(string s) => [.. s.Split(':').Select(x => Convert.ToByte(x, 16))];

    private static byte[] Frame(string dst, string src, byte seed)
    {
        var f = new byte[60];
        Mac(dst).CopyTo(f, 0);
        Mac(src).CopyTo(f, 6);
        f[12] = 0x88; f[13] = 0xB5;
        for (int i = 14; i < f.Length; i++) f[i] = (byte)(i + seed);
        return f;
    }

    private static Process StartRun(MacvtapLab lab, string name, params string[] command)
    {
        var psi = MvtapdProcess.Dotnet("mvtap.dll", ["--run-dir", lab.RunDir, "run", name, "--", .. command]);
        return Process.Start(psi)!;
    }

    private static (int Status, string Out, string Err) Finish(Process p)
    {
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000)) { p.Kill(true); throw new TimeoutException("mvtap run did not end"); }
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    private static byte[]? ReadFrame(Socket s)
    {
        var len = new byte[4];
        int got = 0;
        while (got < 4)
        {
            int n = s.Receive(len, got, 4 - got, SocketFlags.None);
            if (n == 0) return null;
            got += n;
        }
        var frame = new byte[BinaryPrimitives.ReadUInt32BigEndian(len)];
        for (got = 0; got < frame.Length;)
        {
            int n = s.Receive(frame, got, frame.Length - got, SocketFlags.None);
            if (n == 0) return null;
            got += n;
        }
        return frame;
    }

    [Fact]
    public void A_command_run_with_the_tap_as_fd_3_exchanges_frames_with_another_guest()
    {
        using var lab = new MacvtapLab();
        int a = lab.AddMacvtap("tra", MacA);
        int b = lab.AddMacvtap("trb", MacB);
        using var gb = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 30_000 };
        gb.Connect(new UnixDomainSocketEndPoint(lab.StreamPath(b)));

        var fromA = Frame(MacB, MacA, 1);
        using (var run = StartRun(lab, "tra", "python3", "-c", Guest, Convert.ToHexString(fromA)))
        {
            // the guest behind the TAP repeats its frame until it hears back
            byte[]? got = null;
            for (int i = 0; i < 100 && (got = ReadFrame(gb)) is not null && !got.AsSpan(6, 6).SequenceEqual(Mac(MacA)); i++) { }
            Assert.NotNull(got);
            Assert.Equal(fromA, got);
            var reply = Frame(MacA, MacB, 2);
            var framed = new byte[4 + reply.Length];
            BinaryPrimitives.WriteUInt32BigEndian(framed, (uint)reply.Length);
            reply.CopyTo(framed, 4);
            gb.Send(framed);
            var (status, output, err) = Finish(run);
            Assert.True(status == 0, $"status {status}: {err}");
            Assert.Equal(Convert.ToHexString(reply).ToLowerInvariant(), output.Trim());
        }

        // the TAP went away with the command: the endpoint takes the next guest
        var deadline = DateTime.UtcNow.AddSeconds(30);
        int again;
        do
        {
            using var next = StartRun(lab, "tra", "true");
            again = Finish(next).Status;
        } while (again != 0 && DateTime.UtcNow < deadline && SleepBriefly());
        Assert.Equal(0, again);
        Assert.True(lab.Stats("tra").TxPackets >= 1);
    }

    private static bool SleepBriefly()
    {
        Thread.Sleep(200);
        return true;
    }

    [Fact]
    public void Run_is_refused_while_the_endpoint_has_a_guest()
    {
        using var lab = new MacvtapLab();
        int a = lab.AddMacvtap("trc", MacA);
        using var ga = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        ga.Connect(new UnixDomainSocketEndPoint(lab.StreamPath(a)));
        // the daemon accepts on its datapath thread: the guest holds the endpoint once its frames count
        var frame = Frame("ff:ff:ff:ff:ff:ff", MacA, 3);
        var framed = new byte[4 + frame.Length];
        BinaryPrimitives.WriteUInt32BigEndian(framed, (uint)frame.Length);
        frame.CopyTo(framed, 4);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        do ga.Send(framed); while (lab.Stats("trc").TxPackets == 0 && DateTime.UtcNow < deadline && SleepBriefly());
        Assert.True(lab.Stats("trc").TxPackets > 0, "the stream guest was never served");
        using var p = StartRun(lab, "trc", "true");
        var r = Finish(p);
        Assert.NotEqual(0, r.Status);
        Assert.Contains("guest", r.Err);
    }
}
