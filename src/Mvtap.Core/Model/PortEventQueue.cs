// How a Port tells its adapters that it changed (Port.Changed): outside the port's lock, in order,
// one drainer at a time. A change is counted under the port's lock (Enqueue) and, once the lock is
// released, the changing thread calls Drain: it either runs the handlers itself or waits until the
// thread that is running them has covered its change. So when a change of the port returns, every
// handler has seen it (an interface follows its endpoint before `link set … up` answers), no handler
// runs under the port's lock (they make system calls: setsockopt, rtnetlink), and handlers never
// run concurrently. Handlers read the port's current state, so one round covers every change
// counted before it began.
//
// A handler that changes the port itself (on the draining thread) does not wait for itself: its
// change is handled in the next round, after the current handler returns. A handler must not take
// a lock that a thread changing the port may hold, since that thread may be waiting here for it.
using System.Runtime.ExceptionServices;

namespace Mvtap.Core.Model;

internal sealed class PortEventQueue
{
    private readonly object _gate = new();
    private long _counted;  // changes counted so far
    private long _handled;  // changes the handlers have seen
    private int _drainer;   // managed thread id of the thread running the handlers; 0: none

    /// <summary>Counts one change; returns its number, to pass to <see cref="Drain"/>.</summary>
    public long Enqueue()
    {
        lock (_gate) return ++_counted;
    }

    /// <summary>Returns once the handlers have seen change <paramref name="upTo"/>, running them
    /// on this thread when no other thread does. Must not be called under the port's lock. An
    /// exception that escapes a handler is rethrown here, on the thread that ran it, after the
    /// other handlers and every pending change have been handled.</summary>
    public void Drain(long upTo, Port port, Func<Action<Port>?> handlers)
    {
        int self = Environment.CurrentManagedThreadId;
        lock (_gate)
        {
            while (true)
            {
                if (_drainer == self || _handled >= upTo) return;
                if (_drainer == 0) break;
                Monitor.Wait(_gate);
            }
            _drainer = self;
        }
        ExceptionDispatchInfo? failure = null;
        try
        {
            while (true)
            {
                long target;
                lock (_gate)
                {
                    target = _counted;
                    if (target == _handled) break;
                }
                foreach (var handler in handlers()?.GetInvocationList() ?? [])
                {
                    try { ((Action<Port>)handler)(port); }
                    catch (Exception e) { failure ??= ExceptionDispatchInfo.Capture(e); }
                }
                lock (_gate)
                {
                    _handled = target;
                    Monitor.PulseAll(_gate);
                }
            }
        }
        finally
        {
            lock (_gate)
            {
                _drainer = 0;
                Monitor.PulseAll(_gate);
            }
        }
        failure?.Throw();
    }
}
