// open/read/write/readv/writev on character devices (/dev/net/tun, /dev/tapN) and namespace files.
using System.Runtime.InteropServices;

namespace Mvtap.Linux.Interop;

public static unsafe partial class FileIo
{
    public const int O_RDONLY = 0;
    public const int O_RDWR = 2;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;

    [LibraryImport(Libc.Name, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, int mode);

    [LibraryImport(Libc.Name, EntryPoint = "read", SetLastError = true)]
    public static partial nint read(int fd, void* buf, nuint count);

    /// <summary>Reads at an offset without moving the file position (re-reading a /proc seq file from 0).</summary>
    [LibraryImport(Libc.Name, EntryPoint = "pread", SetLastError = true)]
    public static partial nint pread(int fd, void* buf, nuint count, long offset);

    [LibraryImport(Libc.Name, EntryPoint = "write", SetLastError = true)]
    public static partial nint write(int fd, void* buf, nuint count);

    [LibraryImport(Libc.Name, EntryPoint = "readv", SetLastError = true)]
    public static partial nint readv(int fd, IoVec* iov, int iovcnt);

    [LibraryImport(Libc.Name, EntryPoint = "writev", SetLastError = true)]
    public static partial nint writev(int fd, IoVec* iov, int iovcnt);

    [LibraryImport(Libc.Name, EntryPoint = "fcntl", SetLastError = true)]
    private static partial int fcntl(int fd, int cmd, int arg);

    public static FileDescriptor Open(string path, int flags) =>
        new(Libc.Check(open(path, flags | O_CLOEXEC, 0), $"open({path})"));

    /// <summary>Turns O_NONBLOCK on or off (F_GETFL=3, F_SETFL=4).</summary>
    public static void SetNonBlocking(FileDescriptor fd, bool on)
    {
        int flags = Libc.Check(fcntl(fd.Fd, 3, 0), "fcntl(F_GETFL)");
        flags = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
        Libc.Check(fcntl(fd.Fd, 4, flags), "fcntl(F_SETFL)");
        GC.KeepAlive(fd);
    }

    /// <summary>Whether the descriptor's open file description has O_NONBLOCK (F_GETFL).</summary>
    public static bool IsNonBlocking(FileDescriptor fd)
    {
        int flags = Libc.Check(fcntl(fd.Fd, 3, 0), "fcntl(F_GETFL)");
        GC.KeepAlive(fd);
        return (flags & O_NONBLOCK) != 0;
    }
}
