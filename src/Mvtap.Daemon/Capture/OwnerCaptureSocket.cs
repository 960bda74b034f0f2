// One macvtap endpoint's capture socket for its owner (<run-dir>/capture/NAME.sock, made and moved
// by OwnerCaptureSockets): mode 0600, owned by the endpoint's owner, so an owner who is not in the
// control socket's group can capture the endpoint's frames, and nothing else. The file's mode is
// the first guard; the peer's SO_PEERCRED uid is checked on accept too (the owner, root, or
// mvtapd's own user), so a socket file whose mode was widened, or a connection handed on, does
// not widen access. The socket serves one kind of request: a capture naming this endpoint (by its
// name now) and nothing else; a request for another endpoint, a lower, or anything but a capture
// is refused in ip's words. A request is outside input: one that is malformed, too large (over
// MaxRequestBytes, refused before it is read) or not complete within RequestTimeout is dropped
// and counted; the socket goes on serving. Each capture holds a ring of CaptureSession.RingBytes,
// so one owner runs at most MaxCaptures at once (more are refused, EBUSY): an owner cannot make
// mvtapd allocate without bound.
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Mvtap.Control;
using Mvtap.Core.Model;
using Mvtap.Daemon.Links;
using Mvtap.Linux.Interop;

namespace Mvtap.Daemon.Capture;

public sealed class OwnerCaptureSocket : IDisposable
{
    /// <summary>A capture request is small: its names (at most 64 interface names) and a few numbers.</summary>
    public const int MaxRequestBytes = 16 * 1024;
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    /// <summary>Captures running at once on one owner's socket.</summary>
    public const int MaxCaptures = 4;
    private int _running;

    private readonly EndpointRecord _record;
    private readonly CaptureRunner _captures;
    private readonly ILogger _log;
    private readonly Socket _listener;
    private readonly CancellationTokenSource _closed = new();
    private int _uid;
    private long _dropped, _refused;

    /// <summary>Binds <paramref name="path"/> (a stale file there is replaced), gives it to
    /// <paramref name="uid"/> with mode 0600, then listens.</summary>
    public OwnerCaptureSocket(string path, EndpointRecord record, int uid, CaptureRunner captures, ILogger log)
    {
        _record = record;
        _uid = uid;
        _captures = captures;
        _log = log;
        Path = path;
        if (File.Exists(path)) File.Delete(path);
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            _listener.Bind(new UnixDomainSocketEndPoint(path));
            // mode and owner before listen(): until then a connect is refused whatever the mode
            File.SetUnixFileMode(path, OwnerOnly);
            Ownership.Change(path, uid, -1);
            _listener.Listen(16);
        }
        catch
        {
            _listener.Dispose();
            try { File.Delete(path); } catch (IOException) { }
            throw;
        }
    }

    public EndpointRecord Record => _record;
    public string Path { get; private set; }
    public int Uid => Volatile.Read(ref _uid);
    /// <summary>Requests dropped: malformed, too large, or not complete in time.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);
    /// <summary>Clients refused: a peer that is not the owner, or a request that is not a capture of this endpoint.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>The endpoint was renamed: the file follows (rename(2) keeps the bound socket).</summary>
    public void MoveTo(string path)
    {
        File.Move(Path, path, overwrite: true);
        Path = path;
    }

    /// <summary>`link set ... owner U`: the file and the peer check follow the new owner.</summary>
    public void SetOwner(int uid)
    {
        Ownership.Change(Path, uid, -1);
        Volatile.Write(ref _uid, uid);
    }

    public async Task RunAsync(CancellationToken stop)
    {
        using var both = CancellationTokenSource.CreateLinkedTokenSource(stop, _closed.Token);
        while (!both.IsCancellationRequested)
        {
            Socket client;
            try { client = await _listener.AcceptAsync(both.Token).ConfigureAwait(false); }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException) { break; }
            catch (SocketException e) { _log.LogWarning("capture socket {Path}: accept failed: {Error}", Path, e.Message); continue; }
            _ = Task.Run(() => ServeAsync(client, stop), CancellationToken.None);
        }
    }

    private async Task ServeAsync(Socket client, CancellationToken stop)
    {
        using var _ = client;
        await using var stream = new NetworkStream(client, ownsSocket: false);
        string name = _record.Name;
        try
        {
            var cred = PeerCredentials.Of(client.SafeHandle);
            if (!Allows(cred.Uid))
            {
                long n = Interlocked.Increment(ref _refused);
                _log.LogWarning("capture socket of {Name}: refused uid {Uid} (pid {Pid}), not its owner ({Refused} refused so far)", name, cred.Uid, cred.Pid, n);
                try { await ReadRequestAsync(stream, stop).ConfigureAwait(false); }
                catch (Exception e) when (e is ControlProtocolException or OperationCanceledException) { /* refused either way */ }
                await Reply(stream, ControlResponse.Failure((int)Errno.EPERM, $"Operation not permitted: {Path} is {name}'s owner's"), stop).ConfigureAwait(false);
                return;
            }
            CaptureRequest request;
            try
            {
                var payload = await ReadRequestAsync(stream, stop).ConfigureAwait(false);
                if (payload is null) return;
                request = ControlCodec.DecodeRequest(payload) is CaptureRequest c ? c : throw new NotACapture();
                name = _record.Name; // a rename meanwhile: the name it has now
                if (request.Names is not { Count: > 0 } names || names.Exists(n => n != name)) throw new NotACapture();
            }
            catch (NotACapture)
            {
                long n = Interlocked.Increment(ref _refused);
                _log.LogWarning("capture socket of {Name}: refused a request that is not a capture of {Name} ({Refused} refused so far)", name, name, n);
                await Reply(stream, ControlResponse.Failure((int)Errno.EPERM,
                    $"Operation not permitted: {Path} serves captures of {name} only"), stop).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (e is ControlProtocolException || (e is OperationCanceledException && !stop.IsCancellationRequested))
            {
                long n = Interlocked.Increment(ref _dropped);
                string why = e is ControlProtocolException ? e.Message : $"no complete request within {RequestTimeout.TotalSeconds} s";
                _log.LogWarning("capture socket of {Name}: dropped a request: {Error} ({Dropped} dropped so far)", name, why, n);
                if (e is ControlProtocolException)
                    await Reply(stream, ControlResponse.Failure((int)Errno.EINVAL, $"malformed request: {e.Message}"), stop).ConfigureAwait(false);
                return;
            }
            if (Interlocked.Increment(ref _running) > MaxCaptures)
            {
                Interlocked.Decrement(ref _running);
                await Reply(stream, ControlResponse.Failure((int)Errno.EBUSY,
                    $"Device or resource busy: {MaxCaptures} captures of {name} run on {Path} already"), stop).ConfigureAwait(false);
                return;
            }
            try
            {
                CaptureSession session;
                try { session = _captures.Start(request, cred.Uid, Path); }
                catch (MvtapException e)
                {
                    await Reply(stream, ControlResponse.Failure((int)e.Errno, e.Message), stop).ConfigureAwait(false);
                    return;
                }
                await _captures.RunAsync(session, stream, stop).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref _running);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
        {
            _log.LogDebug("capture socket of {Name}: connection ended: {Error}", name, e.Message);
        }
        catch (Exception e)
        {
            // a bug serving one connection must not end the socket or the daemon
            _log.LogError(e, "capture socket of {Name}: connection failed", name);
        }
    }

    // The one request of a connection, bounded in size and time. A refused peer's is read too (and
    // not looked at), so that the refusal reaches it rather than a reset connection.
    private static async Task<byte[]?> ReadRequestAsync(Stream stream, CancellationToken stop)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        timeout.CancelAfter(RequestTimeout);
        return await ControlFraming.ReadFrameAsync(stream, timeout.Token, MaxRequestBytes).ConfigureAwait(false);
    }

    private bool Allows(uint uid) => uid == 0 || uid == Identity.EffectiveUserId || uid == (uint)Uid;

    private static Task Reply(Stream stream, ControlResponse response, CancellationToken stop) =>
        ControlFraming.WriteFrameAsync(stream, ControlCodec.EncodeResponse(response), stop);

    /// <summary>Stops accepting and removes the file; captures running on it go on to their end.</summary>
    public void Dispose()
    {
        _closed.Cancel();
        _listener.Dispose();
        try { File.Delete(Path); } catch (IOException) { }
    }

    private sealed class NotACapture : Exception;
}
