// A call notifier whose loop fails is reported and started again: the guest's interrupts go on
// (every ring is treated as due after the restart, so none asked for before is lost), and a
// problem report that itself throws does not end the thread either.
using Mvtap.Linux.Interop;
using Mvtap.VhostUser.Virtqueue;

namespace Mvtap.VhostUser.Tests;

public sealed class CallNotifierRestartTests
{
    private sealed class Rings : IDisposable
    {
        public readonly SplitVirtqueue[] Vrings = [new(0, new DeviceHealth(_ => { })), new(1, new DeviceHealth(_ => { }))];
        public readonly FileDescriptor[] Calls = [EventFd.Create(), EventFd.Create()];

        public Rings()
        {
            for (int i = 0; i < Vrings.Length; i++) Vrings[i].SetCall(Calls[i]);
        }

        /// <summary>The interrupts written to ring <paramref name="i"/>'s call eventfd since the last look.</summary>
        public ulong Taken(int i) => EventFd.DrainNoWait(Calls[i].Fd);

        public void Dispose()
        {
            foreach (var c in Calls) c.Dispose();
        }
    }

    [Fact]
    public void A_failing_notifier_loop_is_restarted_and_the_interrupt_asked_for_is_still_written()
    {
        using var rings = new Rings();
        var reports = new List<string>();
        using var notifier = new CallNotifier(rings.Vrings, (_, what) => { lock (reports) reports.Add(what); }, "test calls");
        int failures = 1;
        notifier.ScanHook = () => { if (Interlocked.Decrement(ref failures) == 0) throw new InvalidOperationException("injected"); };

        notifier.Request(0);
        Assert.Equal(1, TestNet.WaitFor(() => notifier.Restarts, n => n >= 1));
        Assert.True(TestNet.WaitFor(() => notifier.Writes, n => n >= 1) >= 1, "the interrupt asked for before the failure was not written");
        Assert.NotEqual(0UL, TestNet.WaitFor(() => rings.Taken(0), n => n != 0));
        lock (reports) Assert.Contains(reports, r => r.Contains("call notifier failed (InvalidOperationException: injected); restarted (1)", StringComparison.Ordinal));

        // and it serves later requests as before
        TestNet.WaitFor(() => notifier.Settled, s => s);
        long before = notifier.Writes;
        notifier.Request(1);
        Assert.True(TestNet.WaitFor(() => notifier.Writes, n => n > before) > before, "a request after the restart was not written");
        Assert.NotEqual(0UL, TestNet.WaitFor(() => rings.Taken(1), n => n != 0));
    }

    [Fact]
    public void A_problem_report_that_throws_does_not_stop_the_notifier()
    {
        using var rings = new Rings();
        using var notifier = new CallNotifier(rings.Vrings, (_, _) => throw new InvalidOperationException("report failed"), "test calls");
        int failures = 1;
        notifier.ScanHook = () => { if (Interlocked.Decrement(ref failures) == 0) throw new InvalidOperationException("injected"); };

        notifier.Request(0);
        Assert.Equal(1, TestNet.WaitFor(() => notifier.Restarts, n => n >= 1));
        Assert.NotEqual(0UL, TestNet.WaitFor(() => rings.Taken(0), n => n != 0));
        long before = notifier.Writes;
        notifier.Request(0);
        Assert.True(TestNet.WaitFor(() => notifier.Writes, n => n > before) > before);
    }
}
