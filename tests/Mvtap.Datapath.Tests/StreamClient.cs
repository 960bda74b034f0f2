// A QEMU `-netdev stream` peer for tests, on a real unix socket: 4-byte big-endian length and
// the raw frame, with bounded waits for frames and for the other side closing the connection.
// Shared by the datapath's and the daemon's tests.
using System.Buffers.Binary;
using System.Net.Sockets;

namespace Mvtap.Tests.Stream;

public static class StreamClient
{
    public static Socket Connect(string path)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 500 };
        s.Connect(new UnixDomainSocketEndPoint(path));
        return s;
    }

    public static byte[] Frame(int length, string dst, string src, byte seed)
    {
        var f = new byte[length];
        for (int i = 14; i < length; i++) f[i] = (byte)(i * 13 + seed);
        Mac(dst).CopyTo(f, 0);
        Mac(src).CopyTo(f, 6);
        f[12] = 0x88; f[13] = 0xB5; // local experimental ethertype
        return f;
    }

    private static byte[] Mac(string s) => [.. s.Split(':').Select(x => Convert.ToByte(x, 16))];

    public static void Send(Socket s, byte[] frame)
    {
        var b = new byte[4 + frame.Length];
        BinaryPrimitives.WriteUInt32BigEndian(b, (uint)frame.Length);
        frame.CopyTo(b, 4);
        s.Send(b);
    }

    /// <summary>Reads one framed frame, or null when nothing came within the socket's timeout.</summary>
    public static byte[]? Receive(Socket s)
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
    public static bool Closed(Socket s)
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

    /// <summary>True when <paramref name="frame"/> arrives at <paramref name="to"/> within about 10 s;
    /// other frames (broadcasts of other guests) are skipped.</summary>
    public static bool Arrives(Socket to, byte[] frame)
    {
        for (int silent = 0, other = 0; silent < 20 && other < 1000;)
        {
            if (Receive(to) is not { } got) silent++;
            else if (got.AsSpan().SequenceEqual(frame)) return true;
            else other++;
        }
        return false;
    }

    /// <summary>Sends <paramref name="frame"/> from <paramref name="from"/> until <paramref name="to"/> gets it
    /// (the first tries may reach the daemon before it accepted the receiver); bounded. Other frames
    /// <paramref name="to"/> receives meanwhile (broadcasts of other guests: ARP, IPv6) are skipped.</summary>
    public static void Exchange(Socket from, Socket to, byte[] frame)
    {
        for (int attempt = 0; attempt < 40; attempt++)
        {
            Send(from, frame);
            for (int other = 0; other < 100 && Receive(to) is { } got; other++)
                if (got.AsSpan().SequenceEqual(frame)) return;
        }
        Assert.Fail("the frame never arrived");
    }
}
