// Serves <run-dir>/mvtapd.sock: one request frame per connection, answered with one response
// frame. A malformed, oversized or slow request gets an error (or the connection closed) and
// the daemon goes on; a client without permission is refused before its request is read.
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Mvtap.Control;
using Mvtap.Core.Model;
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

    public ControlServer(string socketPath, LinkRegistry registry, SocketAccess access, ILogger log)
    {
        _registry = registry;
        _access = access;
        _log = log;
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
            ControlResponse response;
            Linux.TapDevice? tap = null;
            try
            {
                var request = ControlCodec.DecodeRequest(payload);
                if (request is TapFdRequest tapRequest) (response, tap) = _registry.OpenTap(tapRequest, cred.Uid, cred.Gid);
                else response = _registry.Handle(request);
            }
            catch (ControlProtocolException e)
            {
                response = ControlResponse.Failure((int)Errno.EINVAL, $"malformed request: {e.Message}");
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
            // a bug in one request must not take the daemon down
            _log.LogError(e, "control request failed");
            try { await Reply(stream, ControlResponse.Failure((int)Errno.EINVAL, $"internal error: {e.Message}"), stop); } catch (IOException) { } catch (SocketException) { }
        }
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
        _listener.Dispose();
        try { File.Delete(SocketPath); } catch (IOException) { }
    }
}
