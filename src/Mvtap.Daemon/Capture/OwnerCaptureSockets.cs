// The capture sockets of the macvtap endpoints that have an owner (OwnerCaptureSocket), kept in
// step with the registry: Sync, called whenever the endpoints change (added, restored, renamed,
// given another owner, deleted, gone with their lower), makes a socket for each such endpoint at
// <run-dir>/capture/NAME.sock, moves it when the endpoint is renamed, hands it to a new owner, and
// closes and removes it when the endpoint goes. On start it removes what a killed mvtapd left in
// that directory; on stop, its sockets. The directory is root's, mode 0755: anyone may look for
// a socket, only its owner may connect to it.
using Microsoft.Extensions.Logging;
using Mvtap.Control;
using Mvtap.Daemon.Attachments;
using Mvtap.Daemon.Links;
using Mvtap.Daemon.Lowers;

namespace Mvtap.Daemon.Capture;

public sealed class OwnerCaptureSockets : IDisposable
{
    private const UnixFileMode DirectoryMode = (UnixFileMode)0b111_101_101;
    private readonly object _gate = new();
    private readonly LinkRegistry _registry;
    private readonly string _runDir;
    private readonly CaptureRunner _captures;
    private readonly ILogger _log;
    private readonly CancellationToken _stop;
    private readonly Dictionary<EndpointRecord, OwnerCaptureSocket> _sockets = [];
    private bool _disposed;

    public OwnerCaptureSockets(LinkRegistry registry, string runDir, CaptureRunner captures, ILogger log, CancellationToken stop)
    {
        _registry = registry;
        _runDir = runDir;
        _captures = captures;
        _log = log;
        _stop = stop;
        var dir = ControlPaths.CaptureDirectory(runDir);
        try
        {
            Directory.CreateDirectory(dir);
            File.SetUnixFileMode(dir, DirectoryMode);
            // sockets a killed mvtapd left: Sync makes those of today's endpoints again
            foreach (var stale in Directory.EnumerateFiles(dir, "*.sock")) File.Delete(stale);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // the endpoints' owners cannot capture; nothing else depends on it
            log.LogError("{Dir}: {Error}; owners' capture sockets may be missing", dir, e.Message);
        }
        registry.EndpointsChanged += Sync;
        Sync();
    }

    /// <summary>The sockets there are now (tests, diagnostics).</summary>
    public IReadOnlyList<OwnerCaptureSocket> Sockets { get { lock (_gate) return [.. _sockets.Values]; } }

    /// <summary>Makes, moves, hands over or removes sockets so that each macvtap endpoint with an owner
    /// has one at its name. A socket that cannot be made is logged; the endpoint is not affected.</summary>
    public void Sync()
    {
        // called at the end of control requests: whatever goes wrong here must not become their answer
        try { SyncLocked(); }
        catch (Exception e) { _log.LogError(e, "owners' capture sockets not brought in step with the endpoints"); }
    }

    private void SyncLocked()
    {
        lock (_gate)
        {
            if (_disposed) return;
            var wanted = new Dictionary<EndpointRecord, int>();
            foreach (var record in _registry.Records)
            {
                if (record.Kind != EndpointKind.Macvtap || record.Owner is null) continue;
                try { wanted[record] = Accounts.Uid(record.Owner); }
                catch (Core.Model.MvtapException e) { _log.LogWarning("{Name} gets no capture socket: {Error}", record.Name, e.Message); }
            }
            foreach (var (record, socket) in _sockets.Where(s => !wanted.ContainsKey(s.Key)).ToList())
            {
                _sockets.Remove(record);
                socket.Dispose();
                _log.LogInformation("removed {Path}", socket.Path);
            }
            foreach (var (record, uid) in wanted)
            {
                string path = ControlPaths.OwnerCapturePath(_runDir, record.Name);
                try
                {
                    if (!_sockets.TryGetValue(record, out var socket))
                    {
                        socket = new OwnerCaptureSocket(path, record, uid, _captures, _log);
                        _sockets[record] = socket;
                        _ = socket.RunAsync(_stop);
                        _log.LogInformation("{Name}'s owner (uid {Uid}) captures it on {Path}", record.Name, uid, path);
                        continue;
                    }
                    if (socket.Path != path) socket.MoveTo(path);
                    if (socket.Uid != uid) socket.SetOwner(uid);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Net.Sockets.SocketException
                                              or Linux.Interop.SystemCallException)
                {
                    _log.LogError("{Name}'s capture socket {Path}: {Error}", record.Name, path, e.Message);
                }
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _registry.EndpointsChanged -= Sync;
            foreach (var socket in _sockets.Values) socket.Dispose();
            _sockets.Clear();
        }
    }
}
