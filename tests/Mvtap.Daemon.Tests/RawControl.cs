// Talks to mvtapd's control socket without the CLI, as any client could: a frame of raw bytes, or
// a request the CLI itself would refuse to send. One request per connection.
using System.Buffers.Binary;
using System.Net.Sockets;
using Mvtap.Control;

namespace Mvtap.Daemon.Tests;

internal static class RawControl
{
    public static byte[] Exchange(string socketPath, byte[] raw)
    {
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 10_000 };
        s.Connect(new UnixDomainSocketEndPoint(socketPath));
        s.Send(raw);
        using var stream = new NetworkStream(s);
        return ControlFraming.ReadFrame(stream) ?? [];
    }

    public static byte[] Frame(byte[] payload)
    {
        var f = new byte[4 + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(f, (uint)payload.Length);
        payload.CopyTo(f, 4);
        return f;
    }

    public static ControlResponse Send(string socketPath, ControlRequest request) =>
        ControlCodec.DecodeResponse(Exchange(socketPath, Frame(ControlCodec.EncodeRequest(request))));
}
