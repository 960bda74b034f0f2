// The client role's reconnect state machine (RedialBackoff): the waits a run of failed dials and
// short sessions gets, as a table, and for any sequence of events (CsCheck) that every wait lies
// between the first wait and the bound, grows until the bound, and starts over after a session
// that ran long enough.
using CsCheck;

namespace Mvtap.VhostUser.Tests;

public sealed class RedialBackoffTests
{
    private static readonly TimeSpan Initial = TimeSpan.FromMilliseconds(250), Max = TimeSpan.FromSeconds(5), Healthy = TimeSpan.FromSeconds(5);

    [Fact]
    public void Failed_dials_double_the_wait_up_to_the_bound_and_a_healthy_session_starts_over()
    {
        var b = new RedialBackoff(Initial, Max, Healthy);
        double[] expected = [0.25, 0.5, 1, 2, 4, 5, 5, 5];
        foreach (var seconds in expected) Assert.Equal(TimeSpan.FromSeconds(seconds), b.DialFailed());
        Assert.Equal(expected.Length, b.ConsecutiveFailures);

        Assert.Equal(Initial, b.SessionEnded(TimeSpan.FromMinutes(3)));   // a guest was served: dial again at once
        Assert.Equal(0, b.ConsecutiveFailures);
        Assert.Equal(Initial, b.DialFailed());
        Assert.Equal(TimeSpan.FromSeconds(0.5), b.DialFailed());
    }

    [Fact]
    public void A_session_that_ends_at_once_counts_as_a_failed_dial()
    {
        // a peer that accepts and closes, or sends garbage, costs no more than one dial per bound
        var b = new RedialBackoff(Initial, Max, Healthy);
        var waits = Enumerable.Range(0, 10).Select(_ => b.SessionEnded(TimeSpan.FromMilliseconds(3))).ToList();
        Assert.Equal([0.25, 0.5, 1, 2, 4, 5, 5, 5, 5, 5], waits.Select(w => w.TotalSeconds));
        Assert.Equal(10, b.ConsecutiveFailures);
    }

    [Fact]
    public void Every_wait_lies_between_the_first_wait_and_the_bound_for_any_sequence_of_events()
    {
        // an event: -1 a failed dial, otherwise a session of that many milliseconds
        Gen.Select(Gen.Int[1, 2000], Gen.Int[1, 20_000], Gen.Int[-1, 10_000].Array[0, 60]).Sample((initialMs, extraMs, events) =>
        {
            var initial = TimeSpan.FromMilliseconds(initialMs);
            var max = initial + TimeSpan.FromMilliseconds(extraMs);
            var b = new RedialBackoff(initial, max, Healthy);
            var previous = TimeSpan.Zero;
            foreach (var e in events)
            {
                bool healthy = e >= Healthy.TotalMilliseconds;
                var wait = e < 0 ? b.DialFailed() : b.SessionEnded(TimeSpan.FromMilliseconds(e));
                if (wait < initial || wait > max) return false;
                if (healthy && wait != initial) return false;
                if (!healthy && previous != TimeSpan.Zero && wait < previous && wait != initial) return false;
                previous = healthy ? TimeSpan.Zero : wait;
            }
            return true;
        });
    }
}
