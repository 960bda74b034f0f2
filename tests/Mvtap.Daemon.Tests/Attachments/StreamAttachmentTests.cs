// tapN.stream, QEMU's `-netdev stream` framing (4-byte big-endian length, raw frame) served by a
// real mvtapd, driven by a C# client per guest: frames pass between two bridge endpoints in
// both sizes, a length outside 14..65535 closes the connection (and the next client is served),
// a second client is refused while one is attached, and so is a vhost-user frontend.
using System.Buffers.Binary;
using System.Net.Sockets;

namespace Mvtap.Daemon.Tests.Attachments;

[Collection(TestpmdCollection.Name)]
public sealed class StreamAttachmentTests
{
    private const string MacA = "02:4d:56:00:02:0a", MacB = "02:4d:56:00:02:0b";

    private static Socket Connect(string path)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 500 };
        s.Connect(new UnixDomainSocketEndPoint(path));
        return s;
    }

    private static byte[] Frame(int length, string dst, string src, byte seed)
    {
        var f = new byte[length];
        for (int i = 14; i < length; i++) f[i] = (byte)(i * 13 + seed);
        Mac(dst).CopyTo(f, 0);
        Mac(src).CopyTo(f, 6);
        f[12] = 0x88; f[13] = 0xB5; // local experimental ethertype
        return f;
    }

    private static byte[] Mac(string s) => [.. s.Split(':').Select(x => Convert.ToByte(x, 16))];

    private static void Send(Socket s, byte[] frame)
    {
        var b = new byte[4 + frame.Length];
        BinaryPrimitives.WriteUInt32BigEndian(b, (uint)frame.Length);
        frame.CopyTo(b, 4);
        s.Send(b);
    }

    /// <summary>Reads one framed frame, or null when nothing came within the socket's timeout.</summary>
    private static byte[]? Receive(Socket s)
    {
        var len = new byte[4];
        try
        {
            if (!ReadExactly(s, len)) return null;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut || e.SocketErrorCode == SocketError.WouldBlock)
        {
            return null;
        }
        var frame = new byte[BinaryPrimitives.ReadUInt32BigEndian(len)];
        s.ReceiveTimeout = 10_000;
        Assert.True(ReadExactly(s, frame), "connection closed mid-frame");
        s.ReceiveTimeout = 500;
        return frame;
    }

    private static bool ReadExactly(Socket s, byte[] buffer)
    {
        int got = 0;
        while (got < buffer.Length)
        {
            int n = s.Receive(buffer, got, buffer.Length - got, SocketFlags.None);
            if (n == 0) return false;
            got += n;
        }
        return true;
    }

    /// <summary>True when the peer closed the connection (bounded wait).</summary>
    private static bool Closed(Socket s)
    {
        s.ReceiveTimeout = 10_000;
        var b = new byte[4096];
        try
        {
            while (true) if (s.Receive(b) == 0) return true;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset) { return true; }
        catch (SocketException) { return false; }
    }

    /// <summary>Sends <paramref name="frame"/> from <paramref name="from"/> until <paramref name="to"/> gets it
    /// (the first tries may reach the daemon before it accepted the receiver); bounded.</summary>
    private static void Exchange(Socket from, Socket to, byte[] frame)
    {
        for (int attempt = 0; attempt < 40; attempt++)
        {
            Send(from, frame);
            if (Receive(to) is { } got)
            {
                Assert.Equal(frame, got);
                return;
            }
        }
        Assert.Fail("the frame never arrived");
    }

    [Fact]
    public void Frames_pass_between_two_stream_guests_and_bad_lengths_or_second_clients_are_refused()
    {
        using var lab = new MacvtapLab();
        int a = lab.AddMacvtap("sta", MacA);
        int b = lab.AddMacvtap("stb", MacB);
        Assert.True(File.Exists(lab.StreamPath(a)), "tapN.stream");

        using (var ga = Connect(lab.StreamPath(a)))
        using (var gb = Connect(lab.StreamPath(b)))
        {
            Exchange(ga, gb, Frame(60, MacB, MacA, 1));
            Exchange(gb, ga, Frame(1514, MacA, MacB, 2));
            Exchange(ga, gb, Frame(64, MacB, MacA, 3));

            // one guest at a time: a second stream client, and a vhost-user frontend, are closed
            using (var second = Connect(lab.StreamPath(a))) Assert.True(Closed(second), "a second stream client was served");
            using (var vhost = Connect(lab.VhostPath(a))) Assert.True(Closed(vhost), "a vhost-user frontend was served next to a stream guest");
            Exchange(ga, gb, Frame(100, MacB, MacA, 4));

            // lengths outside 14..65535 close the connection
            var shortLength = new byte[4 + 13];
            BinaryPrimitives.WriteUInt32BigEndian(shortLength, 13);
            ga.Send(shortLength);
            Assert.True(Closed(ga), "length 13 did not close the connection");
        }
        using (var ga = Connect(lab.StreamPath(a)))
        using (var gb = Connect(lab.StreamPath(b)))
        {
            Exchange(ga, gb, Frame(60, MacB, MacA, 5)); // the slot was freed: a new guest is served
            var huge = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(huge, 65536);
            gb.Send(huge);
            Assert.True(Closed(gb), "length 65536 did not close the connection");
        }
        var stats = lab.SettledStats("sta");
        Assert.True(stats.TxPackets >= 3);
        Assert.Equal(0, lab.Daemon.Cli("link", "show").Status);
    }
}
