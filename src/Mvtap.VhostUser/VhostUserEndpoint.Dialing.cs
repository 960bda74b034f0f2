// The client role of a vhost-user endpoint: mvtapd dials a frontend that listens (QEMU
// `-chardev socket,server=on`, libvirt mode='server', DPDK virtio-user server=1) on the
// endpoint's one control thread, and dials again by itself whenever the session ends, waiting
// as RedialBackoff says (the waits wake at once on Dispose; no thread per dial). mvtapd is root
// and the path is a user's, so each dial checks who is there: the path must be a socket (not a
// symlink) owned by the owner (or root), looked at through an O_PATH|O_NOFOLLOW handle and
// connected through that handle (/proc/self/fd/N), so what was checked is what is connected; the connect does not block (a full backlog is a failed
// dial), and the peer's SO_PEERCRED uid must be the endpoint's owner, or root where AllowRootPeer
// (libvirtd itself listens for the QEMU it starts, so its socket's peer is root). A peer that then says nothing within FirstMessageTimeout is hung up on. Every refusal
// is counted, logged once per change of reason, and retried with the backoff; the datapath only
// ever sees the session's rings come and go, as in the server role.
using System.Diagnostics;
using Mvtap.Linux.Interop;

namespace Mvtap.VhostUser;

public sealed partial class VhostUserEndpoint
{
    private int _dialFailures;
    private int _peersRefused;
    private int _silentPeers;
    private volatile string? _dialProblem;

    /// <summary>The longest wait between two dials (client role).</summary>
    public TimeSpan MaxRedialInterval { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>A session at least this long starts the waits over (client role).</summary>
    public TimeSpan HealthySession { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>How long a dialled frontend may take to send its first message.</summary>
    public TimeSpan FirstMessageTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Dials that found nothing to talk to (no socket yet, refused, backlog full).</summary>
    public int DialFailures => Volatile.Read(ref _dialFailures);
    /// <summary>Dials hung up on because the socket or the peer was not the endpoint owner's.</summary>
    public int PeersRefused => Volatile.Read(ref _peersRefused);
    /// <summary>Dialled frontends hung up on because they did not speak within FirstMessageTimeout.</summary>
    public int SilentPeers => Volatile.Read(ref _silentPeers);
    /// <summary>Why the last dial failed, while the client has no session (null when connected or never failed).</summary>
    public string? DialProblem => _dialProblem;

    /// <summary>The uid a dialled peer must run as besides root: the owner, or root for an endpoint without one.</summary>
    public uint AllowedPeerUid => OwnerUid >= 0 ? (uint)OwnerUid : 0;
    /// <summary>Whether a peer (and socket file) of root's is served too (what root asked for; a
    /// socket-group user's endpoint serves only its owner, so it cannot point mvtapd at root's services).</summary>
    public bool AllowRootPeer { get; init; } = true;

    private bool Allowed(uint uid) => uid == AllowedPeerUid || (AllowRootPeer && uid == 0);

    /// <summary>Gives the endpoint a new owner (`link set ... owner`): the next dial checks against it.</summary>
    public void SetOwnerUid(int uid) => Volatile.Write(ref _ownerUid, uid);

    private void DialLoop()
    {
        var backoff = new RedialBackoff(RedialInterval, MaxRedialInterval < RedialInterval ? RedialInterval : MaxRedialInterval, HealthySession);
        while (!_stopping.IsSet)
        {
            var socket = Dial(out string? problem, out bool refused);
            if (socket is null)
            {
                Interlocked.Increment(ref refused ? ref _peersRefused : ref _dialFailures);
                NoteProblem(problem!);
                _stopping.Wait(backoff.DialFailed());
                continue;
            }
            if (!Register(socket)) return;
            _dialProblem = null;
            if (!FrontendSpeaks(socket))
            {
                Interlocked.Increment(ref _silentPeers);
                Unregister(socket);
                NoteProblem($"the frontend on {SocketPath} said nothing for {FirstMessageTimeout.TotalSeconds:0.#} s after the connect; hung up");
                _stopping.Wait(backoff.DialFailed());
                continue;
            }
            if (Admit?.Invoke() == false)
            {
                Interlocked.Increment(ref _refused);
                Unregister(socket);
                NoteProblem("the endpoint already has a guest attached another way (one at a time)");
                _stopping.Wait(backoff.DialFailed());
                continue;
            }
            _log($"vhost-user {SocketPath}: connected to the frontend");
            long started = Stopwatch.GetTimestamp();
            ServeRegistered(socket);
            if (_stopping.IsSet) return;
            var wait = backoff.SessionEnded(Stopwatch.GetElapsedTime(started));
            _log($"vhost-user {SocketPath}: session ended ({LastSessionEnd}); dialling again in {wait.TotalSeconds:0.###} s");
            _stopping.Wait(wait);
        }
    }

    /// <summary>One dial: a connected, blocking socket to an allowed peer, or null with why not
    /// (<paramref name="refused"/>: there was a peer, but not one mvtapd may talk to).</summary>
    private FileDescriptor? Dial(out string? problem, out bool refused)
    {
        refused = false;
        // Looked at once through a handle on the node itself, and connected through that handle's
        // /proc/self/fd path: a symlink swapped in at SocketPath after the look is not followed.
        FileDescriptor? node;
        try { node = PathHandles.OpenNoFollow(SocketPath); }
        catch (SystemCallException e) { problem = $"cannot look at {SocketPath}: {e.Message}"; return null; }
        if (node is null) { problem = $"no socket at {SocketPath} yet"; return null; }
        using (node) return DialChecked(node, out problem, out refused);
    }

    private FileDescriptor? DialChecked(FileDescriptor node, out string? problem, out bool refused)
    {
        refused = false;
        NodeInfo info;
        try { info = PathHandles.Inspect(node); }
        catch (SystemCallException e) { problem = $"cannot look at {SocketPath}: {e.Message}"; return null; }
        uint allowed = AllowedPeerUid;
        if (!info.IsSocket || !Allowed(info.Uid))
        {
            refused = true;
            problem = info.IsSocket
                ? $"{SocketPath} belongs to uid {info.Uid}, not to the endpoint's owner ({allowed}){(AllowRootPeer ? " or root" : "")}; not dialled"
                : $"{SocketPath} is not a socket (a symlink is not followed); not dialled";
            return null;
        }
        var socket = UnixSocket.Create();
        try
        {
            // non-blocking: a listener whose backlog is full fails the dial instead of holding the thread
            FileIo.SetNonBlocking(socket, true);
            int errno = UnixSocket.Connect(socket, PathHandles.ProcPath(node));
            if (errno != 0)
            {
                problem = $"connect to {SocketPath} failed: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)}";
                socket.Dispose();
                return null;
            }
            var peer = PeerCredentials.Of(socket);
            if (!Allowed(peer.Uid))
            {
                refused = true;
                problem = $"the frontend on {SocketPath} runs as uid {peer.Uid} (pid {peer.Pid}), not as the endpoint's owner ({allowed}){(AllowRootPeer ? " or root" : "")}; hung up";
                socket.Dispose();
                return null;
            }
            FileIo.SetNonBlocking(socket, false);
            problem = null;
            return socket;
        }
        catch (SystemCallException e)
        {
            problem = $"dialling {SocketPath} failed: {e.Message}";
            socket.Dispose();
            return null;
        }
    }

    /// <summary>Waits (up to FirstMessageTimeout) until the frontend sent something or hung up;
    /// Dispose and Disconnect end the wait by shutting the socket down.</summary>
    private bool FrontendSpeaks(FileDescriptor socket)
    {
        try
        {
            return Sockets.Poll(socket.Fd, Sockets.POLLIN, (int)Math.Min(int.MaxValue, FirstMessageTimeout.TotalMilliseconds)) != 0;
        }
        catch (SystemCallException)
        {
            return true; // let the session see the broken socket and end as a disconnect
        }
        finally
        {
            GC.KeepAlive(socket);
        }
    }

    private void Unregister(FileDescriptor socket)
    {
        using (_gate.EnterScope()) _session = null;
        socket.Dispose();
    }

    /// <summary>Logs a dial problem when it differs from the last one, so a frontend that is away
    /// for hours leaves one line, not one per dial.</summary>
    private void NoteProblem(string problem)
    {
        if (problem != _dialProblem) _log($"vhost-user {SocketPath}: {problem} (dialling again with backoff)");
        _dialProblem = problem;
    }
}
