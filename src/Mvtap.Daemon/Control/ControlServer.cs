// Serves <run-dir>/mvtapd.sock: one request frame per connection, answered with one response
// frame. A malformed, oversized or slow request gets an error (or the connection closed) and
// the daemon goes on; a client without permission is refused before its request is read. Every
// request that was read gets an answer: whatever carrying it out throws becomes an error response
// (logged at error level), never a connection closed without a word. The registry learns who the
// client is (SO_PEERCRED), for what only some clients may do (netns PID, a macvtap's tap). A
// monitor request (allowed to every client that may use the socket, as link show) keeps its
// connection: the endpoints' changes follow as event frames (LinkEventHub) until the client goes.
// A capture request (the same clients: whoever may control the endpoints) keeps it too: its
// pcapng stream follows (CaptureRunner, CaptureSession) until the capture ends; mvtapd's stop
// waits (bounded) for the captures to write their ends.
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Mvtap.Control;
using Mvtap.Core.Model;
using Mvtap.Daemon.Capture;
using Mvtap.Daemon.Events;
using Mvtap.Daemon.Links;
using Mvtap.Linux.Interop;

namespace Mvtap.Daemon.Control;

public sealed class ControlServer : IDisposable
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);
    private readonly LinkRegistry _registry;
    private readonly SocketAccess _access;
    private readonly ILogger _log;
    private readonly Socket _listener;
    private readonly LinkEventHub _events;
    private static readonly TimeSpan CaptureEndBound = TimeSpan.FromSeconds(10);

    public ControlServer(string socketPath, LinkRegistry registry, SocketAccess access, ILogger log, CaptureRunner? captures = null)
    {
        _registry = registry;
        Captures = captures ?? new CaptureRunner(registry, log);
        _access = access;
        _log = log;
        _events = new LinkEventHub(() => registry.Handle(new LinkShowRequest()) is { Ok: true, Links: { } links } ? links : null, log);
        // what the system does to a lower or a datapath thread is pushed to monitors as it happens
        registry.SystemChanged += _events.Refresh;
        SocketPath = socketPath;
        Directory.CreateDirectory(Path.GetDirectoryName(socketPath)!);
        if (File.Exists(socketPath)) File.Delete(socketPath); // a stale socket from a killed daemon
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        File.SetUnixFileMode(socketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
        if (access.Gid is { } gid) Ownership.Change(socketPath, uid: -1, gid: (int)gid);
        _listener.Listen(64);
    }

    public string SocketPath { get; }

    /// <summary>The captures running on this socket (an owner's capture socket may share it).</summary>
    public CaptureRunner Captures { get; }

    /// <summary>Where `mvtap monitor` clients subscribe.</summary>
    public LinkEventHub Events => _events;

    public async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await _listener.AcceptAsync(stop).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
            catch (ObjectDisposedException) { break; }
            catch (SocketException e) { _log.LogWarning("control socket accept failed: {Error}", e.Message); continue; }
            _ = Task.Run(() => ServeAsync(client, stop), stop);
        }
        await Captures.WhenEndedAsync(CaptureEndBound).ConfigureAwait(false);
    }

    private async Task ServeAsync(Socket client, CancellationToken stop)
    {
        using var _ = client;
        await using var stream = new NetworkStream(client, ownsSocket: false);
        try
        {
            var cred = PeerCredentials.Of(client.SafeHandle);
            if (!_access.Allows(cred.Uid, cred.Gid))
            {
                _log.LogWarning("refused a control client: uid {Uid} gid {Gid} (pid {Pid})", cred.Uid, cred.Gid, cred.Pid);
                await Reply(stream, ControlResponse.Failure((int)Errno.EPERM, "Operation not permitted: not allowed to use mvtapd"), stop);
                return;
            }
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
            timeout.CancelAfter(RequestTimeout);
            var payload = await ControlFraming.ReadFrameAsync(stream, timeout.Token).ConfigureAwait(false);
            if (payload is null) return;
            var (response, tap, monitor, capture) = Answer(payload, cred);
            if (capture is not null && response.Ok)
            {
                await Captures.RunAsync(capture, stream, stop).ConfigureAwait(false);
                return;
            }
            if (monitor && response.Ok)
            {
                await Reply(stream, response, stop);
                await StreamEventsAsync(stream, stop).ConfigureAwait(false);
                return;
            }
            using (tap)
            {
                await Reply(stream, response, stop);
                // the TAP's queue descriptor follows the answer, in one byte with SCM_RIGHTS;
                // our copy closes here, so the TAP lives exactly as long as the client's copies
                if (tap is not null) SendDescriptor(client, tap.Handle);
            }
        }
        catch (ControlProtocolException e)
        {
            _log.LogWarning("bad control request: {Error}", e.Message);
            try { await Reply(stream, ControlResponse.Failure((int)Errno.EINVAL, e.Message), stop); } catch (IOException) { } catch (SocketException) { }
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            _log.LogWarning("control client sent no complete request within {Seconds} s", RequestTimeout.TotalSeconds);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
        {
            _log.LogDebug("control connection ended: {Error}", e.Message);
        }
        catch (Exception e)
        {
            // outside the request itself (the peer's credentials, handing a descriptor over): this
            // connection fails, with an answer if it can still take one; the server goes on
            _log.LogError(e, "control connection failed");
            try { await Reply(stream, ControlResponse.Failure((int)Errno.EIO, $"internal error: {e.Message}"), stop); } catch (Exception) { /* the connection is gone */ }
        }
    }

    // Carries out one request; nothing it throws escapes (the connection must still get its answer).
    // A change is published to monitors before it is answered.
    private (ControlResponse, Linux.TapDevice?, bool Monitor, CaptureSession? Capture) Answer(byte[] payload, UCred cred)
    {
        try
        {
            var request = ControlCodec.DecodeRequest(payload);
            if (request is MonitorRequest) return (ControlResponse.Success(), null, true, null);
            if (request is TapFdRequest tapRequest)
            {
                var (response, tap) = _registry.OpenTap(tapRequest, cred.Uid, cred.Gid);
                return (response, tap, false, null);
            }
            if (request is CaptureRequest captureRequest)
            {
                return (ControlResponse.Success(), null, false, Captures.Start(captureRequest, cred.Uid, "the control socket"));
            }
            var answer = _registry.Handle(request, cred.Uid);
            if (request is not LinkShowRequest) _events.Refresh();
            return (answer, null, false, null);
        }
        catch (ControlProtocolException e)
        {
            return (ControlResponse.Failure((int)Errno.EINVAL, $"malformed request: {e.Message}"), null, false, null);
        }
        catch (MvtapException e)
        {
            return (ControlResponse.Failure((int)e.Errno, e.Message), null, false, null);
        }
        catch (Exception e)
        {
            // a bug in carrying out one request must not take the connection or the daemon down
            _log.LogError(e, "control request failed");
            return (ControlResponse.Failure((int)Errno.EIO, $"internal error: {e.Message}"), null, false, null);
        }
    }

    // A monitor's connection: its events as frames until it closes (or sends anything more) or mvtapd stops.
    private async Task StreamEventsAsync(NetworkStream stream, CancellationToken stop)
    {
        var subscriber = _events.Subscribe();
        using var gone = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var watch = WatchForCloseAsync(stream, gone);
        try
        {
            await foreach (var e in subscriber.Events.ReadAllAsync(gone.Token).ConfigureAwait(false))
                await ControlFraming.WriteFrameAsync(stream, ControlCodec.EncodeEvent(e), gone.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) { /* the client went, or mvtapd stops */ }
        finally
        {
            _events.Unsubscribe(subscriber);
            if (subscriber.Lost > 0) _log.LogInformation("a monitor that read too slowly lost {Lost} events", subscriber.Lost);
            await gone.CancelAsync().ConfigureAwait(false);
            await watch.ConfigureAwait(false);
        }
    }

    private static async Task WatchForCloseAsync(NetworkStream stream, CancellationTokenSource gone)
    {
        try { await stream.ReadAsync(new byte[1], gone.Token).ConfigureAwait(false); }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException) { }
        await gone.CancelAsync().ConfigureAwait(false);
    }

    private static void SendDescriptor(Socket client, FileDescriptor fd)
    {
        using var handle = new FileDescriptor((int)client.Handle, ownsHandle: false);
        UnixSocket.Send(handle, [1], [fd.Fd]);
        GC.KeepAlive(fd);
    }

    private static Task Reply(Stream stream, ControlResponse response, CancellationToken stop) =>
        ControlFraming.WriteFrameAsync(stream, ControlCodec.EncodeResponse(response), stop);

    public void Dispose()
    {
        _registry.SystemChanged -= _events.Refresh;
        _events.Dispose();
        _listener.Dispose();
        try { File.Delete(SocketPath); } catch (IOException) { }
    }
}
