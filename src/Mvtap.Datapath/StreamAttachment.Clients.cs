// Who a macvtap's `-netdev stream` attachment serves: one client at a time. A client that
// connects while the endpoint's guest is attached another way (vhost-user, tap) is closed at
// once. One that connects while another stream client is attached waits (one at most; a further
// one is closed at once) and takes over as soon as that client goes away, or when it loses the
// endpoint by one of two rules:
//  - stall: it sent part of a frame and nothing more for StallTimeout (default 10 s), waiting
//    client or not. QEMU writes each frame with one writev, and the rest of a frame that the
//    socket could not take at once follows as soon as we read, so ten seconds is no scheduling
//    delay: the client is stopped or hostile. The half frame is dropped (counted Malformed).
//  - idle: it sent nothing at all for IdleTimeout (default 30 s) while another client waits. A
//    live VM speaks now and then (ARP, neighbour discovery, DHCP renewals); a connection silent
//    for half a minute while something else asks for the endpoint is most likely a leftover, and
//    a waiting QEMU 7.2 (its -netdev stream connects once, never again) must not wait for ever.
// A quiet client alone on the endpoint is never closed: it may be a VM that cannot reconnect.
// Both deadlines live in one timerfd polled with the sockets. It is set only when a half frame
// is left behind or a client starts waiting while no earlier deadline is pending, so busy
// traffic costs no extra system call. Tests shorten the timeouts through the internal setters.
using System.Buffers.Binary;
using System.Diagnostics;
using Mvtap.Core.Model;
using Mvtap.Linux.Interop;

namespace Mvtap.Datapath;

public sealed unsafe partial class StreamAttachment
{
    public static readonly TimeSpan DefaultStallTimeout = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan DefaultIdleTimeout = TimeSpan.FromSeconds(30);
    private const long NotArmed = long.MaxValue;

    private readonly FileDescriptor _timer;
    private FileDescriptor? _waiting;
    // Stopwatch timestamp of the attached client's last bytes (or of its arrival), and of the
    // deadline the timer is set for
    private long _lastInput;
    private long _timerDue = NotArmed;
    private long _closedStalled, _closedIdle;

    /// <summary>How long an attached client may leave a frame half sent (tests set it shorter).</summary>
    internal TimeSpan StallTimeout { get; set; } = DefaultStallTimeout;
    /// <summary>How long an attached client may stay silent while another waits (tests set it shorter).</summary>
    internal TimeSpan IdleTimeout { get; set; } = DefaultIdleTimeout;

    /// <summary>Clients closed for leaving a frame half sent.</summary>
    public long ClosedStalled => Volatile.Read(ref _closedStalled);
    /// <summary>Clients closed for silence while another client waited for the endpoint.</summary>
    public long ClosedIdle => Volatile.Read(ref _closedIdle);
    public bool HasWaitingClient => Volatile.Read(ref _waiting) is not null;

    private void AcceptAll()
    {
        while (true)
        {
            FileDescriptor client;
            try { client = UnixSocket.Accept(_listener); }
            catch (SystemCallException) { return; } // EAGAIN: none left
            if (_connection is null)
            {
                if (_slot.TryClaim(_slotId)) Attach(client);
                else Refuse(client); // the guest is attached another way
            }
            else if (_waiting is null)
            {
                Volatile.Write(ref _waiting, client);
                if (Stopwatch.GetTimestamp() - _lastInput >= Ticks(IdleTimeout)) CloseIdle();
                else ArmAt(_lastInput + Ticks(IdleTimeout));
            }
            else Refuse(client);
        }
    }

    private void Attach(FileDescriptor client)
    {
        FileIo.SetNonBlocking(client, true);
        _inStart = _inEnd = _outStart = _outEnd = 0;
        _lastInput = Stopwatch.GetTimestamp();
        Volatile.Write(ref _connection, client);
        Interlocked.Increment(ref _connections);
        _datapath?.RequestResync(this);
    }

    private void Refuse(FileDescriptor client)
    {
        Interlocked.Increment(ref _refused);
        client.Dispose();
    }

    /// <summary>After a read that left part of a frame in the buffer.</summary>
    private void WatchStall() => ArmAt(_lastInput + Ticks(StallTimeout));

    private void OnTimer()
    {
        TimerFd.Drain(_timer);
        _timerDue = NotArmed;
        if (_connection is null) return;
        long silent = Stopwatch.GetTimestamp() - _lastInput;
        if (HasPartialFrame() && silent >= Ticks(StallTimeout))
        {
            Interlocked.Increment(ref _closedStalled);
            Endpoint.Counters.AddDrop(DropReason.Malformed);
            _log($"stream: closed a client that sent part of a frame and then nothing for {StallTimeout.TotalSeconds:0.###} s");
            CloseConnection();
        }
        else if (_waiting is not null && silent >= Ticks(IdleTimeout)) CloseIdle();
        // what is still to be watched, for the client attached now
        if (_connection is null) return;
        if (HasPartialFrame()) ArmAt(_lastInput + Ticks(StallTimeout));
        if (_waiting is not null) ArmAt(_lastInput + Ticks(IdleTimeout));
    }

    private void CloseIdle()
    {
        Interlocked.Increment(ref _closedIdle);
        _log($"stream: closed a client silent for {IdleTimeout.TotalSeconds:0.###} s to serve the one waiting for the endpoint");
        CloseConnection();
    }

    /// <summary>Sets the timer for <paramref name="due"/> unless it goes off earlier already.</summary>
    private void ArmAt(long due)
    {
        if (due >= _timerDue) return;
        _timerDue = due;
        TimerFd.Arm(_timer, Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due));
    }

    // Bytes in the buffer that do not make a whole frame: one the client began and did not finish.
    private bool HasPartialFrame()
    {
        int have = _inEnd - _inStart;
        if (have == 0) return false;
        return have < 4 || have - 4 < BinaryPrimitives.ReadUInt32BigEndian(_in.AsSpan(_inStart));
    }

    private static long Ticks(TimeSpan t) => (long)(t.TotalSeconds * Stopwatch.Frequency);

    private void CloseConnection()
    {
        var connection = _connection;
        if (connection is null) return;
        Volatile.Write(ref _connection, null);
        _datapath?.Unwatch(this, connection.Fd);
        connection.Dispose();
        _inStart = _inEnd = _outStart = _outEnd = 0;
        _pending = false;
        // the waiting client takes the endpoint over: the slot stays this attachment's
        if (_waiting is { } waiting && _datapath is not null)
        {
            Volatile.Write(ref _waiting, null);
            Attach(waiting);
            return;
        }
        _slot.Release(_slotId);
    }

    private void CloseWaiting()
    {
        var waiting = _waiting;
        if (waiting is null) return;
        Volatile.Write(ref _waiting, null);
        waiting.Dispose();
    }
}
