// eventfd(2): the wake-up counter used for vhost-user kicks and calls and to interrupt a
// datapath thread's epoll_wait when the control plane publishes a new table. A descriptor that
// came from another process shares its open file description (and so its O_NONBLOCK) with that
// process, which can turn blocking back on at any time: such a descriptor is read with
// DrainNoWait (preadv2 RWF_NOWAIT), which never blocks whatever the description's flags say.
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

    [LibraryImport(Libc.Name, EntryPoint = "preadv2", SetLastError = true)]
    private static unsafe partial nint preadv2(int fd, IoVec* iov, int iovcnt, long offset, int flags);

    private const int RWF_NOWAIT = 0x8;

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

    /// <summary>Like <see cref="Drain"/>, but never blocks, even when the descriptor's file
    /// description has O_NONBLOCK cleared (by the process that shares it): reads with
    /// RWF_NOWAIT, which an eventfd honours (Linux 5.12+). 0 if it was not signalled; a
    /// descriptor that cannot be read so (not an eventfd, e.g. EOPNOTSUPP) throws.</summary>
    public static unsafe ulong DrainNoWait(int fd)
    {
        ulong value = 0;
        var iov = new IoVec { Base = (nint)(&value), Length = 8 };
        nint n = preadv2(fd, &iov, 1, -1, RWF_NOWAIT);
        if (n < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == (int)Errno.EAGAIN) return 0;
            throw new SystemCallException("preadv2(eventfd, RWF_NOWAIT)", errno);
        }
        return value;
    }
}
