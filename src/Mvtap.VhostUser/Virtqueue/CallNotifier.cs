// Writes the guest's call eventfds for one vhost-user session, on a thread of its own. A call
// descriptor comes from the frontend and shares its open file description with it: the
// frontend can clear O_NONBLOCK and fill the counter (0xfffffffffffffffe), and a write then
// blocks until someone reads it (pwritev2's RWF_NOWAIT is not honoured by eventfds, and
// checking before writing is a race). The lower's datapath thread serves every endpoint, so it
// never writes a call itself: it marks the ring as due and, unless this thread has been woken
// and not yet looked, wakes it through an eventfd only mvtapd holds. A write that blocks stalls
// only this session's guest. At the session's end the thread is stopped; a write still blocked
// is released by reading the counter back (a non-blocking read, RWF_NOWAIT). Should the loop
// fail anyway, it is reported and started again after a pause (Restarts), with every ring
// treated as due: a spurious interrupt is harmless, a lost one would stall the guest.
using Mvtap.Linux.Interop;

namespace Mvtap.VhostUser.Virtqueue;

public sealed class CallNotifier : IDisposable
{
    private const int StopAttempts = 250;
    private static readonly TimeSpan StopWait = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan FirstRestartPause = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan LongestRestartPause = TimeSpan.FromSeconds(5);

    private readonly SplitVirtqueue[] _vrings;
    private readonly int[] _due;
    private readonly FileDescriptor _wake = EventFd.Create(nonBlocking: false);
    private readonly Action<int, string> _problem;
    private readonly Thread _thread;
    private readonly Lock _writingGate = new();
    private FileDescriptor? _writing; // referenced while the thread writes it; under _writingGate
    private int _awake;               // 1 from a wake until the thread starts looking
    private int _idle;                // 1 while the thread waits for a wake
    private volatile bool _stopping;
    private long _writes, _restarts;

    /// <param name="problem">Told (vring, what) when the frontend made a call descriptor blocking
    /// or it could not be written; called on the notifier's thread.</param>
    public CallNotifier(SplitVirtqueue[] vrings, Action<int, string> problem, string name)
    {
        _vrings = vrings;
        _due = new int[vrings.Length];
        _problem = problem;
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>Call descriptors written so far (for tests and diagnostics).</summary>
    public long Writes => Interlocked.Read(ref _writes);

    /// <summary>Test seam: runs on the notifier's thread before each scan of the rings (a test makes it
    /// throw to stand in for any failure of the loop).</summary>
    internal Action? ScanHook { get; set; }

    /// <summary>Times the notifier's loop failed and was started again.</summary>
    public long Restarts => Interlocked.Read(ref _restarts);

    /// <summary>Asks for an interrupt on <paramref name="vring"/>. Never blocks, never allocates:
    /// one eventfd write (to mvtapd's own descriptor) when the thread is idle, none otherwise.</summary>
    public void Request(int vring)
    {
        Volatile.Write(ref _due[vring], 1);
        if (Interlocked.Exchange(ref _awake, 1) == 0) EventFd.Signal(_wake.Fd);
    }

    /// <summary>True when every interrupt asked for has been written (or found impossible): the
    /// thread waits and nothing is due. For tests and diagnostics.</summary>
    public bool Settled
    {
        get
        {
            if (Volatile.Read(ref _idle) == 0 || Volatile.Read(ref _awake) != 0) return false;
            foreach (ref int due in _due.AsSpan())
                if (Volatile.Read(ref due) != 0) return false;
            return true;
        }
    }

    private void Run()
    {
        var pause = FirstRestartPause;
        while (!_stopping)
        {
            try
            {
                Serve();
            }
            catch (Exception e)
            {
                // Nothing here may end the daemon, and a notifier that stayed stopped would leave its
                // guest without interrupts: report, pause (longer each time, bounded), start again.
                long n = Interlocked.Increment(ref _restarts);
                Report(-1, $"call notifier failed ({e.GetType().Name}: {e.Message}); restarted ({n})");
                Thread.Sleep(pause);
                pause = pause * 2 < LongestRestartPause ? pause * 2 : LongestRestartPause;
                for (int i = 0; i < _due.Length; i++) Volatile.Write(ref _due[i], 1);
                Volatile.Write(ref _awake, 1);
                continue;
            }
        }
    }

    /// <summary>The loop: wait for a wake, write every due ring's call. After a restart the first
    /// scan runs without waiting (everything was marked due).</summary>
    private void Serve()
    {
        while (!_stopping)
        {
            if (Volatile.Read(ref _awake) == 0)
            {
                Volatile.Write(ref _idle, 1);
                EventFd.Drain(_wake.Fd); // blocks: only mvtapd holds this eventfd
                Volatile.Write(ref _idle, 0);
            }
            ScanHook?.Invoke();
            // Cleared before the scan: a ring marked due after this point wakes us again.
            Interlocked.Exchange(ref _awake, 0);
            for (int i = 0; i < _due.Length && !_stopping; i++)
                if (Interlocked.Exchange(ref _due[i], 0) != 0) Notify(i);
        }
    }

    /// <summary>Tells the owner; a problem report that throws is not allowed to end the thread.</summary>
    private void Report(int vring, string what)
    {
        try { _problem(vring, what); }
        catch (Exception) { /* the report is lost; the notifier goes on */ }
    }

    private void Notify(int index)
    {
        var vq = _vrings[index];
        FileDescriptor? call;
        bool added = false;
        using (vq.Gate.EnterScope())
        {
            call = vq.Call;
            // Under the ring's lock the handle is current, hence not disposed: AddRef succeeds.
            call?.DangerousAddRef(ref added);
        }
        if (call == null || !added) return;
        using (_writingGate.EnterScope()) _writing = call;
        try
        {
            if (!FileIo.IsNonBlocking(call))
            {
                FileIo.SetNonBlocking(call, true);
                Report(index, "the frontend made its call descriptor blocking (O_NONBLOCK cleared); set non-blocking again");
            }
            EventFd.Signal(call.Fd);
            Interlocked.Increment(ref _writes);
        }
        catch (SystemCallException e)
        {
            using (vq.Gate.EnterScope())
                if (vq.Call == call) vq.Fail($"vring {index}: call descriptor unusable: {e.Message}");
        }
        finally
        {
            using (_writingGate.EnterScope()) _writing = null;
            call.DangerousRelease();
        }
    }

    /// <summary>Stops the thread. The rings must no longer name this notifier (no Request can
    /// follow). A write blocked on a descriptor the frontend filled is released by reading the
    /// counter back; if the frontend keeps refilling it, the thread is left to end on its own.</summary>
    public void Dispose()
    {
        _stopping = true;
        EventFd.Signal(_wake.Fd);
        for (int attempt = 0; !_thread.Join(StopWait); attempt++)
        {
            if (attempt == StopAttempts)
            {
                // its wake-up eventfd stays open with it: the thread no longer reads it once stopping
                Report(-1, "call notifier still blocked in a write the frontend keeps full; left to end with it");
                return;
            }
            using (_writingGate.EnterScope())
            {
                if (_writing == null) continue;
                try { EventFd.DrainNoWait(_writing.Fd); }
                catch (SystemCallException) { /* not an eventfd: nothing more to do from here */ }
            }
        }
        _wake.Dispose();
    }
}
