// The datapath thread's life. A thread that ends because something escaped the containment of
// frames and attachments is logged at error level and restarted by the supervisor
// (DatapathSupervisor) after a back-off that grows while failures follow each other (BackOff),
// with everything the port and its attachments hold untouched. Meanwhile the lower's endpoints
// show the state and the reason (State, Fault), and commands are carried out by their callers.
// A watchdog asks each running thread for a heartbeat (a no-op command through its own queue, so
// an idle thread answers too); a thread waiting out its back-off is the supervisor's business,
// not a hang. Tests reach the thread through WakeupHook (make it fail, or hang). StatusChanged tells
// whoever listens (mvtap monitor) that the thread failed or was restarted, as it happens.
using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Mvtap.Datapath;

/// <summary>Running; waiting out a back-off before the supervisor restarts it; stopped for good.</summary>
public enum DatapathState { Running, Restarting, Stopped }

/// <summary>A consistent look at a datapath thread's life: its state, why it last ended, how often
/// it was restarted, and when a thread waiting out its back-off is restarted (UTC).</summary>
public readonly record struct DatapathStatus(DatapathState State, Exception? Fault, int Restarts, DateTime? RestartDue);

public sealed partial class LowerDatapath
{
    /// <summary>The wait before each restart while failures follow each other; the last one repeats.</summary>
    public static readonly TimeSpan[] BackOff =
        [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(16), TimeSpan.FromSeconds(30)];

    /// <summary>A thread that ran this long before failing starts again from the first back-off.</summary>
    public static readonly TimeSpan HealthyRun = TimeSpan.FromMinutes(1);

    // Taken by the control plane (Post, heartbeats), the supervisor and the thread as it ends; never
    // on the thread's forwarding path.
    private readonly object _runGate = new();
    private readonly DatapathFaultLog _faults = new();
    private readonly ConcurrentQueue<(IEndpointAttachment Attachment, DateTime Due)> _suspended = new();
    private Thread _thread = null!;
    private volatile DatapathState _state;
    private volatile Exception? _fault;
    private bool _faultLogged;
    private int _restarts, _failuresInARow;
    private DateTime _startedAt, _restartAt;
    private long _heartbeatsPosted, _heartbeatsAnswered;

    /// <summary>Test seam: run on the datapath thread at every wake-up (throw to make the thread fail,
    /// block to make it hang). Not an option: nothing outside the tests sets it.</summary>
    internal Action? WakeupHook;

    public DatapathState State => _state;

    /// <summary>Raised when the thread failed (now waiting out its back-off) and when the supervisor
    /// restarted it, outside every lock; a handler must return at once (it pushes `mvtap monitor`'s
    /// "datapath" events).</summary>
    public event Action? StatusChanged;

    /// <summary>Why the thread last ended (it is being, or has been, restarted); null if it never did.</summary>
    public Exception? Fault => _fault;

    /// <summary>How often the thread has been restarted after a failure.</summary>
    public int Restarts => Volatile.Read(ref _restarts);

    /// <summary>When a thread waiting out its back-off is restarted (UTC).</summary>
    public DateTime? RestartDue => Status.RestartDue;

    public DatapathStatus Status
    {
        get
        {
            lock (_runGate)
                return new(_state, _fault, _restarts, _state == DatapathState.Restarting ? _restartAt : null);
        }
    }

    /// <summary>Frames whose handling threw so far (each counted as internal_error where it came from).</summary>
    public long FaultsRecorded => _faults.Recorded;

    // under _runGate
    private void StartThread()
    {
        _thread = new Thread(RunThread) { IsBackground = true, Name = $"mvtap-dp-{Lower.Name}" };
        _startedAt = DateTime.UtcNow;
        _state = DatapathState.Running;
        _thread.Start();
    }

    private void RunThread()
    {
        Exception? failure = null;
        try { Loop(); }
        catch (Exception e) { failure = e; }
        finally { EndRun(failure); }
    }

    private void EndRun(Exception? failure)
    {
        lock (_runGate)
        {
            if (failure is not null && !_stop)
            {
                var now = DateTime.UtcNow;
                if (now - _startedAt >= HealthyRun) _failuresInARow = 0;
                _restartAt = now + BackOff[Math.Min(_failuresInARow, BackOff.Length - 1)];
                _failuresInARow++;
                _fault = failure;
                _faultLogged = false;
                _state = DatapathState.Restarting;
            }
            else _state = DatapathState.Stopped;
            // Commands queued before the state changed are carried out here; later ones by Post itself.
            DrainCommands(Port.Table);
        }
        if (failure is not null)
        {
            DatapathSupervisor.Poke();
            StatusChanged?.Invoke();
        }
    }

    /// <summary>Supervisor thread: logs what happened since the last look, gives suspended attachments
    /// another chance, and restarts the thread once its back-off is over.</summary>
    internal void Supervise(DateTime now)
    {
        _faults.Report(_log, Lower.Name, now);
        while (_suspended.TryPeek(out var s) && s.Due <= now)
        {
            _suspended.TryDequeue(out _);
            RequestResync(s.Attachment);
        }
        lock (_runGate)
        {
            if (_state != DatapathState.Restarting || _stop) return;
            if (!_faultLogged)
            {
                _faultLogged = true;
                _log.LogError(_fault, "{Lower}: the datapath thread failed ({Error}); its endpoints forward nothing until it is restarted in {Delay} s (failure {Count} in a row)",
                    Lower.Name, _fault?.Message, Math.Ceiling((_restartAt - now).TotalSeconds), _failuresInARow);
            }
            if (now < _restartAt) return;
            Restart();
        }
        _log.LogWarning("{Lower}: the datapath thread was restarted (restart {Count}); forwarding resumes", Lower.Name, Restarts);
        StatusChanged?.Invoke();
    }

    // under _runGate, with no thread running
    private void Restart()
    {
        // What the failed run left half done: frames batched for the wire, a ring batch not handed back.
        for (int i = 0; i < _wireTx.Count; i++) FrameFailed(_fault ?? new InvalidOperationException("restart"), null, default);
        _wireTx.Clear();
        try { _lowerRx?.Release(); } catch (Exception) { /* a ring of a socket that failed: the next read tells */ }
        _poll.RegisterAll();
        foreach (var a in _poll.Slots) if (a is not null) a.Suspended = false;
        Interlocked.Increment(ref _restarts);
        StartThread();
    }

    /// <summary>For a watchdog, called once per period: true when the heartbeat asked for by the
    /// previous call has been answered, or when no answer was due (the thread is waiting out a
    /// back-off, which is the supervisor's, or stopped); then asks for the next one. A running
    /// thread answers between batches, so only a hung one fails this.</summary>
    public bool CheckHeartbeat()
    {
        lock (_runGate)
        {
            bool answered = _state != DatapathState.Running || Volatile.Read(ref _heartbeatsAnswered) >= _heartbeatsPosted;
            long sequence = ++_heartbeatsPosted;
            if (_state != DatapathState.Running)
            {
                Volatile.Write(ref _heartbeatsAnswered, sequence);
            }
            else
            {
                _commands.Enqueue(new Command(CommandKind.Heartbeat, null) { Sequence = sequence });
                _poll.Signal();
            }
            return answered;
        }
    }
}
