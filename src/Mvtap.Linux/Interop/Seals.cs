// fcntl(2) file seals (F_GET_SEALS): whether a memfd shared by another process can still shrink.
// vhost-user maps the frontend's guest memory file; if the frontend can truncate it after that,
// touching the lost pages raises SIGBUS in the daemon, so the backend checks for F_SEAL_SHRINK.
using System.Runtime.InteropServices;
using Mvtap.Core.Model;

namespace Mvtap.Linux.Interop;

public static partial class Seals
{
    public const int F_ADD_SEALS = 1033;
    public const int F_GET_SEALS = 1034;
    public const int F_SEAL_SEAL = 1;
    public const int F_SEAL_SHRINK = 2;
    public const int F_SEAL_GROW = 4;
    public const int F_SEAL_WRITE = 8;

    [LibraryImport(Libc.Name, EntryPoint = "fcntl", SetLastError = true)]
    private static partial int fcntl(int fd, int cmd, int arg);

    /// <summary>The seals of <paramref name="fd"/>, or -1 if its file cannot carry seals at all
    /// (EINVAL: neither a memfd nor a tmpfs/hugetlbfs file).</summary>
    public static int Get(FileDescriptor fd)
    {
        int seals = fcntl(fd.Fd, F_GET_SEALS, 0);
        GC.KeepAlive(fd);
        if (seals >= 0) return seals;
        int errno = Marshal.GetLastPInvokeError();
        if (errno == (int)Errno.EINVAL) return -1;
        throw new SystemCallException("fcntl(F_GET_SEALS)", errno);
    }

    /// <summary>Adds <paramref name="seals"/> (for tests that build sealed guest memory).</summary>
    public static void Add(FileDescriptor fd, int seals)
    {
        Libc.Check(fcntl(fd.Fd, F_ADD_SEALS, seals), "fcntl(F_ADD_SEALS)");
        GC.KeepAlive(fd);
    }
}
