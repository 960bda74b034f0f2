// The HTTP side of `mvtapd --metrics`: a TCP socket bound to exactly the address given, answering
// GET /metrics with the Prometheus text format, one request per connection. It answers whatever
// Host header the scraper sends (http://localhost:PORT reaches a listener on 127.0.0.1; the
// HttpListener under prometheus-net's own MetricServer answers 404 to that). Outside input is
// bounded: a request's head is at most 8 KiB and must arrive within 10 s, at most 8 clients are
// served at a time (more are closed at once), and nothing a client sends ends the server.
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Mvtap.Daemon.Metrics;

public sealed class MetricsHttpServer : IDisposable
{
    public const string Path = "/metrics";
    private const int MaxHead = 8192, MaxClients = 8;
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);
    private readonly Socket _listener;

    private MetricsHttpServer(Socket listener) => _listener = listener;

    /// <summary>The address it listens on (the kernel's port when 0 was asked).</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)_listener.LocalEndPoint!;

    /// <summary>Binds and listens now, so a bad address is refused before mvtapd starts anything.</summary>
    public static MetricsHttpServer Bind(IPEndPoint endPoint)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // a restarted mvtapd may take its port back while old connections linger in TIME_WAIT
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6) socket.DualMode = false;
            socket.Bind(endPoint);
            socket.Listen(MaxClients);
            return new MetricsHttpServer(socket);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new MetricsListenException($"cannot serve --metrics on {MetricsAddress.Format(endPoint)}: {e.Message}");
        }
    }

    /// <summary>Serves until <paramref name="stop"/>; <paramref name="writeMetrics"/> writes one scrape's text.</summary>
    public async Task ServeAsync(Func<Stream, CancellationToken, Task> writeMetrics, CancellationToken stop)
    {
        using var slots = new SemaphoreSlim(MaxClients);
        var clients = new List<Task>();
        while (!stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await _listener.AcceptAsync(stop).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
            catch (ObjectDisposedException) { break; }
            catch (SocketException)
            {
                // out of descriptors or a connection reset before it was taken: the next one may do
                try { await Task.Delay(100, stop).ConfigureAwait(false); } catch (OperationCanceledException) { break; }
                continue;
            }
            if (!slots.Wait(0)) { client.Dispose(); continue; }
            clients.RemoveAll(t => t.IsCompleted);
            clients.Add(Task.Run(async () =>
            {
                try { await AnswerAsync(client, writeMetrics, stop).ConfigureAwait(false); }
                catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException) { /* that client's loss */ }
                finally
                {
                    client.Dispose();
                    slots.Release();
                }
            }, CancellationToken.None));
        }
        await Task.WhenAll(clients).ConfigureAwait(false);
    }

    private static async Task AnswerAsync(Socket client, Func<Stream, CancellationToken, Task> writeMetrics, CancellationToken stop)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        timeout.CancelAfter(RequestTimeout);
        await using var stream = new NetworkStream(client, ownsSocket: false);
        var head = await ReadHeadAsync(stream, timeout.Token).ConfigureAwait(false);
        if (head is null) { await RespondAsync(stream, "400 Bad Request", "text/plain", "request head too long or incomplete\n"u8.ToArray(), true, timeout.Token).ConfigureAwait(false); return; }
        var requestLine = head[..Math.Max(0, head.IndexOf("\r\n", StringComparison.Ordinal))].Split(' ');
        if (requestLine.Length != 3 || !requestLine[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
        {
            await RespondAsync(stream, "400 Bad Request", "text/plain", "not an HTTP/1.x request\n"u8.ToArray(), true, timeout.Token).ConfigureAwait(false);
            return;
        }
        string method = requestLine[0], target = requestLine[1];
        bool headOnly = method == "HEAD";
        if (method != "GET" && !headOnly)
        {
            await RespondAsync(stream, "405 Method Not Allowed", "text/plain", "only GET and HEAD\n"u8.ToArray(), true, timeout.Token, "Allow: GET, HEAD\r\n").ConfigureAwait(false);
            return;
        }
        int query = target.IndexOf('?');
        string path = query < 0 ? target : target[..query];
        if (path == Path)
        {
            using var body = new MemoryStream();
            await writeMetrics(body, timeout.Token).ConfigureAwait(false);
            await RespondAsync(stream, "200 OK", "text/plain; version=0.0.4; charset=utf-8", body.ToArray(), !headOnly, timeout.Token).ConfigureAwait(false);
        }
        else if (path == "/")
            await RespondAsync(stream, "200 OK", "text/html; charset=utf-8", "<html><body><a href=\"/metrics\">mvtapd metrics</a></body></html>\n"u8.ToArray(), !headOnly, timeout.Token).ConfigureAwait(false);
        else
            await RespondAsync(stream, "404 Not Found", "text/plain", "mvtapd serves /metrics\n"u8.ToArray(), !headOnly, timeout.Token).ConfigureAwait(false);
    }

    // The request line and headers up to the blank line; null when longer than MaxHead or cut short.
    private static async Task<string?> ReadHeadAsync(Stream stream, CancellationToken cancel)
    {
        var buffer = new byte[MaxHead];
        int filled = 0;
        while (filled < buffer.Length)
        {
            int n = await stream.ReadAsync(buffer.AsMemory(filled), cancel).ConfigureAwait(false);
            if (n == 0) return null;
            filled += n;
            int end = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8);
            if (end >= 0) return Encoding.Latin1.GetString(buffer, 0, end + 2);
        }
        return null;
    }

    private static async Task RespondAsync(Stream stream, string status, string contentType, byte[] body, bool sendBody,
        CancellationToken cancel, string extraHeaders = "")
    {
        var head = $"HTTP/1.1 {status}\r\nContent-Type: {contentType}\r\nContent-Length: {body.Length}\r\n{extraHeaders}Connection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head), cancel).ConfigureAwait(false);
        if (sendBody) await stream.WriteAsync(body, cancel).ConfigureAwait(false);
        await stream.FlushAsync(cancel).ConfigureAwait(false);
    }

    public void Dispose() => _listener.Dispose();
}
