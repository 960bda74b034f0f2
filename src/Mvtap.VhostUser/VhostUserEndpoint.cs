// The attachment point of one vhost-user net device (spec 3.8): a control thread that either
// listens on a socket path and serves each frontend that connects (server, the default: QEMU
// with reconnect=N and virtio-user dial us), or dials a frontend that listens and dials again
// with a bounded backoff whenever it goes away (client: QEMU server=on, libvirt mode='server',
// virtio-user server=1; VhostUserEndpoint.Dialing.cs).
using Mvtap.Linux.Interop;
using Mvtap.VhostUser.Net;

namespace Mvtap.VhostUser;

public enum VhostUserRole { Server, Client }

public sealed partial class VhostUserEndpoint : IDisposable
{
    private readonly VhostUserNetBackend _backend;
    private readonly Action<string> _log;
    private readonly ManualResetEventSlim _stopping = new();
    private readonly Lock _gate = new();
    private FileDescriptor? _listener;
    private FileDescriptor? _session;
    private Thread? _thread;
    private volatile Thread? _sessionThread;
    private int _sessions;
    private int _refused;
    private bool _disposed;

    public VhostUserEndpoint(VhostUserNetBackend backend, string socketPath, VhostUserRole role = VhostUserRole.Server,
        Action<string>? log = null)
    {
        _backend = backend;
        SocketPath = socketPath;
        Role = role;
        _log = log ?? (_ => { });
        backend.GuestMemoryLost += () => Disconnect("its guest memory vanished under the mapping");
    }

    public string SocketPath { get; }
    public VhostUserRole Role { get; }
    /// <summary>How long a client first waits between dials (doubled after each failed one, up to
    /// <see cref="MaxRedialInterval"/>).</summary>
    public TimeSpan RedialInterval { get; init; } = TimeSpan.FromMilliseconds(250);
    /// <summary>Mode for the socket file in server role (0660: the VM's group may connect).</summary>
    public uint SocketMode { get; init; } = Convert.ToUInt32("660", 8);
    /// <summary>Owner and group of the socket file in server role (-1: leave as created), so the
    /// user that runs the VM may connect (mvtap's <c>owner</c>/<c>group</c>).</summary>
    public int OwnerUid { get => Volatile.Read(ref _ownerUid); init => _ownerUid = value; }
    private int _ownerUid = -1;
    public int OwnerGid { get; init; } = -1;
    /// <summary>Sessions served so far (ended or running).</summary>
    public int Sessions => Volatile.Read(ref _sessions);
    /// <summary>Asked before a frontend is served (server role): false refuses it, as when another
    /// kind of attachment of the same endpoint has a guest already.</summary>
    public Func<bool>? Admit { get; init; }
    /// <summary>Called when a session admitted by <see cref="Admit"/> has ended.</summary>
    public Action? SessionEnded { get; init; }
    /// <summary>Frontends closed at once because another one was connected.</summary>
    public int Refused => Volatile.Read(ref _refused);
    /// <summary>Why the last session ended.</summary>
    public string? LastSessionEnd { get; private set; }

    /// <summary>Binds (server role: a stale socket file from a previous daemon is replaced) and
    /// starts the control thread.</summary>
    public void Start()
    {
        if (_thread != null) throw new InvalidOperationException("already started");
        if (Role == VhostUserRole.Server)
        {
            var listener = UnixSocket.Create();
            try
            {
                if (File.Exists(SocketPath)) File.Delete(SocketPath);
                UnixSocket.Bind(listener, SocketPath);
                UnixSocket.SetMode(SocketPath, SocketMode);
                if (OwnerUid >= 0 || OwnerGid >= 0) UnixSocket.SetOwner(SocketPath, OwnerUid, OwnerGid);
                UnixSocket.Listen(listener);
            }
            catch
            {
                listener.Dispose();
                throw;
            }
            _listener = listener;
        }
        _thread = new Thread(Role == VhostUserRole.Server ? ServeLoop : DialLoop)
        {
            IsBackground = true,
            Name = $"vhost-user {Path.GetFileName(SocketPath)}",
        };
        _thread.Start();
    }

    private void ServeLoop()
    {
        while (!_stopping.IsSet)
        {
            FileDescriptor socket;
            try
            {
                socket = UnixSocket.Accept(_listener!);
            }
            catch (SystemCallException e)
            {
                if (_stopping.IsSet) return;
                _log($"vhost-user {SocketPath}: accept failed: {e.Message}");
                _stopping.Wait(RedialInterval);
                continue;
            }
            // One frontend at a time: a second one is closed at once (it sees EOF on its first
            // read) instead of waiting unanswered in the backlog behind the running guest.
            Thread? previous = _sessionThread;
            // A frontend that just went away may still be being cleaned up (device reset): its
            // successor is not a second guest, so give the old session a moment to finish.
            if ((previous is { IsAlive: true } && !previous.Join(TimeSpan.FromSeconds(1))) || Admit?.Invoke() == false)
            {
                Interlocked.Increment(ref _refused);
                _log($"vhost-user {SocketPath}: refused a second frontend (one is connected)");
                socket.Dispose();
                continue;
            }
            var thread = new Thread(() => RunSession(socket)) { IsBackground = true, Name = $"vhost-user session {Path.GetFileName(SocketPath)}" };
            _sessionThread = thread;
            thread.Start();
        }
    }

    private void RunSession(FileDescriptor socket)
    {
        if (Register(socket)) ServeRegistered(socket);
    }

    /// <summary>Makes <paramref name="socket"/> the running session, which Disconnect and Dispose
    /// shut down; false (and the socket closed) when the endpoint is stopping.</summary>
    private bool Register(FileDescriptor socket)
    {
        using (_gate.EnterScope())
        {
            if (_stopping.IsSet) { socket.Dispose(); return false; }
            _session = socket;
        }
        return true;
    }

    private void ServeRegistered(FileDescriptor socket)
    {
        Interlocked.Increment(ref _sessions);
        try
        {
            LastSessionEnd = _backend.Serve(socket);
        }
        catch (Exception e)
        {
            // A bug, not the frontend's fault; still, one endpoint must not take the daemon down.
            LastSessionEnd = $"internal error: {e}";
            _log($"vhost-user {SocketPath}: {LastSessionEnd}");
        }
        finally
        {
            using (_gate.EnterScope()) _session = null;
            SessionEnded?.Invoke();
        }
    }

    /// <summary>Ends the running session, if there is one: the frontend sees its connection
    /// closed (and may come back). <paramref name="reason"/> is logged.</summary>
    public void Disconnect(string reason)
    {
        using (_gate.EnterScope())
        {
            if (_session is null || _session.IsClosed) return;
            _log($"vhost-user {SocketPath}: closing the session: {reason}");
            try { UnixSocket.Shutdown(_session); }
            catch (ObjectDisposedException) { /* the session closed on its own meanwhile */ }
        }
    }

    /// <summary>Stops the control thread, ends a running session and removes the socket file.</summary>
    public void Dispose()
    {
        using (_gate.EnterScope())
        {
            if (_disposed) return;
            _disposed = true;
            _stopping.Set();
            // shutdown() wakes the thread blocked in accept/recvmsg; the handles stay valid until
            // their owners dispose them.
            if (_listener != null) UnixSocket.Shutdown(_listener);
            try
            {
                if (_session != null && !_session.IsClosed) UnixSocket.Shutdown(_session);
            }
            catch (ObjectDisposedException) { /* the session closed on its own meanwhile */ }
        }
        _thread?.Join();
        _sessionThread?.Join();
        _listener?.Dispose();
        if (Role == VhostUserRole.Server && _listener != null)
        {
            try { File.Delete(SocketPath); } catch (IOException) { }
        }
        _stopping.Dispose();
    }
}
