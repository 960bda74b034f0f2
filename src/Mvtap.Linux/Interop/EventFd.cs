// eventfd(2): the wake-up counter used for vhost-user kicks and calls and to interrupt a
// datapath thread's epoll_wait when the control plane publishes a new table.
using System.Runtime.InteropServices;
using Mvtap.Core.Model;

namespace Mvtap.Linux.Interop;

public static partial class EventFd
{
    public const int EFD_SEMAPHORE = 1;
    public const int EFD_NONBLOCK = 0x800;
    public const int EFD_CLOEXEC = 0x80000;

    [LibraryImport(Libc.Name, EntryPoint = "eventfd", SetLastError = true)]
    private static partial int eventfd(uint initval, int flags);

    [LibraryImport(Libc.Name, EntryPoint = "write", SetLastError = true)]
    private static unsafe partial nint write(int fd, void* buf, nuint count);

    [LibraryImport(Libc.Name, EntryPoint = "read", SetLastError = true)]
    private static unsafe partial nint read(int fd, void* buf, nuint count);

    public static FileDescriptor Create(bool nonBlocking = true) =>
        new(Libc.Check(eventfd(0, EFD_CLOEXEC | (nonBlocking ? EFD_NONBLOCK : 0)), "eventfd"));

    /// <summary>Adds <paramref name="value"/> to the counter, waking any poller.</summary>
    public static unsafe void Signal(int fd, ulong value = 1)
    {
        nint n = write(fd, &value, 8);
        if (n < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != (int)Errno.EAGAIN) throw new SystemCallException("write(eventfd)", errno); // counter saturated, already signalled
        }
    }

    /// <summary>Reads and resets the counter; 0 if it was not signalled (non-blocking fd).</summary>
    public static unsafe ulong Drain(int fd)
    {
        ulong value = 0;
        nint n = read(fd, &value, 8);
        if (n < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == (int)Errno.EAGAIN) return 0;
            throw new SystemCallException("read(eventfd)", errno);
        }
        return value;
    }
}
