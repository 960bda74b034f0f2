// TCP between network namespaces: a listener and a client each made in its namespace (a socket
// belongs to the namespace of the thread that creates it; after that any thread may use it), and
// one whole transfer whose bytes the receiver hashes, so a test compares SHA-256 end to end.
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Mvtap.Linux;

namespace Mvtap.TestSupport;

public static class TcpTransfer
{
    /// <summary>A listening TCP socket in <paramref name="ns"/>. With <paramref name="reuseAddress"/> the
    /// same port serves several transfers in a row (the last one's connection may still be in TIME_WAIT).</summary>
    public static Socket Listen(string ns, int port, bool reuseAddress = true) => NetNamespace.Run(ns, () =>
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (reuseAddress) s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        s.Bind(new IPEndPoint(IPAddress.Any, port));
        s.Listen(1);
        return s;
    });

    /// <summary>An unconnected TCP socket in <paramref name="ns"/>.</summary>
    public static Socket Client(string ns) =>
        NetNamespace.Run(ns, () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));

    /// <summary>Sends <paramref name="payload"/> from <paramref name="clientNs"/> to a listener on
    /// <paramref name="port"/> in <paramref name="serverNs"/>; returns the SHA-256 of what arrived.
    /// Throws if fewer or more bytes arrived or the transfer did not end within <paramref name="bound"/>.</summary>
    public static byte[] SendAndHash(string serverNs, string serverIp, string clientNs, int port, byte[] payload, TimeSpan bound, int receiveBuffer = 65536)
    {
        using var listener = Listen(serverNs, port);
        using var cts = new CancellationTokenSource(bound);
        var server = Task.Run(async () =>
        {
            using var conn = await listener.AcceptAsync(cts.Token);
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buf = new byte[receiveBuffer];
            long total = 0;
            int n;
            while ((n = await conn.ReceiveAsync(buf, SocketFlags.None, cts.Token)) > 0) { sha.AppendData(buf, 0, n); total += n; }
            if (total != payload.Length) throw new InvalidOperationException($"received {total} of {payload.Length} bytes");
            return sha.GetHashAndReset();
        });
        using var client = Client(clientNs);
        client.ConnectAsync(IPAddress.Parse(serverIp), port, cts.Token).AsTask().Wait(cts.Token);
        int sent = 0;
        while (sent < payload.Length)
            sent += client.SendAsync(payload.AsMemory(sent), SocketFlags.None, cts.Token).AsTask().Result;
        client.Shutdown(SocketShutdown.Send);
        if (!server.Wait(bound)) throw new TimeoutException($"the transfer did not finish within {bound.TotalSeconds:0} s");
        return server.Result;
    }
}
