// timerfd_create(2)/timerfd_settime(2): a timer the datapath thread polls like any other
// descriptor, so an attachment can act on a deadline (a stream client that stalls or idles)
// without a thread or a timeout of its own in the epoll loop. CLOCK_MONOTONIC: a suspended
// machine does not count as time a client was silent.
using System.Runtime.InteropServices;
using Mvtap.Core.Model;

namespace Mvtap.Linux.Interop;

/// <summary>struct itimerspec (two struct timespec: interval, then first expiry).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct ITimerSpec
{
    public long IntervalSeconds;
    public long IntervalNanoseconds;
    public long ValueSeconds;
    public long ValueNanoseconds;
}

public static unsafe partial class TimerFd
{
    public const int CLOCK_MONOTONIC = 1;
    public const int TFD_NONBLOCK = 0x800;
    public const int TFD_CLOEXEC = 0x80000;

    [LibraryImport(Libc.Name, EntryPoint = "timerfd_create", SetLastError = true)]
    private static partial int timerfd_create(int clockid, int flags);

    [LibraryImport(Libc.Name, EntryPoint = "timerfd_settime", SetLastError = true)]
    private static partial int timerfd_settime(int fd, int flags, ITimerSpec* newValue, ITimerSpec* oldValue);

    [LibraryImport(Libc.Name, EntryPoint = "read", SetLastError = true)]
    private static partial nint read(int fd, void* buf, nuint count);

    /// <summary>A disarmed, non-blocking monotonic timer.</summary>
    public static FileDescriptor Create() =>
        new(Libc.Check(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC), "timerfd_create"));

    /// <summary>Fires once, <paramref name="after"/> from now (at least 1 ns: zero would disarm);
    /// replaces any earlier setting.</summary>
    public static void Arm(FileDescriptor timer, TimeSpan after)
    {
        long ns = Math.Max(1, after.Ticks * 100);
        var spec = new ITimerSpec { ValueSeconds = ns / 1_000_000_000, ValueNanoseconds = ns % 1_000_000_000 };
        Libc.Check(timerfd_settime(timer.Fd, 0, &spec, null), "timerfd_settime");
        GC.KeepAlive(timer);
    }

    /// <summary>Reads (and so clears) the expiry count; 0 when it has not fired.</summary>
    public static ulong Drain(FileDescriptor timer)
    {
        ulong count = 0;
        nint n = read(timer.Fd, &count, 8);
        GC.KeepAlive(timer);
        if (n >= 0) return count;
        int errno = Marshal.GetLastPInvokeError();
        if (errno == (int)Errno.EAGAIN) return 0; // not expired
        throw new SystemCallException("read(timerfd)", errno);
    }
}
