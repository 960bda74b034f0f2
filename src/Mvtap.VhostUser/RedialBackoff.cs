// How long a vhost-user client waits before its next dial (the reconnect state machine of the
// client role, kept free of system calls and clocks so that it can be tested by tables): the
// first wait is short, each failed dial or a session that ended before it proved itself doubles
// it, up to a bound, and a session that ran long enough (a guest that was really served) starts
// over from the short wait, so a restarted QEMU is dialled again at once while a peer that
// refuses, closes at once, sends garbage or never speaks costs at most one dial per bound.
namespace Mvtap.VhostUser;

public sealed class RedialBackoff
{
    private readonly TimeSpan _initial;
    private readonly TimeSpan _max;
    private readonly TimeSpan _healthySession;
    private TimeSpan _next;

    public RedialBackoff(TimeSpan initial, TimeSpan max, TimeSpan healthySession)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(initial, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(max, initial);
        _initial = initial;
        _max = max;
        _healthySession = healthySession;
        _next = initial;
    }

    /// <summary>Failed dials (and short sessions) since the last healthy session.</summary>
    public int ConsecutiveFailures { get; private set; }

    /// <summary>The wait that the next failure would return.</summary>
    public TimeSpan Next => _next;

    /// <summary>A dial that did not lead to a session (nothing listening, a refused peer, a silent
    /// one): returns how long to wait before the next dial.</summary>
    public TimeSpan DialFailed()
    {
        var wait = _next;
        ConsecutiveFailures++;
        _next = _next >= _max / 2 ? _max : _next * 2;
        return wait;
    }

    /// <summary>A session that lasted <paramref name="length"/> ended: a healthy one (at least the
    /// healthy-session length) starts the waits over, a shorter one counts as a failed dial.</summary>
    public TimeSpan SessionEnded(TimeSpan length)
    {
        if (length < _healthySession) return DialFailed();
        ConsecutiveFailures = 0;
        _next = _initial;
        return _initial;
    }
}
