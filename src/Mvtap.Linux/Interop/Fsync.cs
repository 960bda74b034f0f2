// fsync(2) of a directory: a rename into it is durable only once the directory is synced.
using System.Runtime.InteropServices;

namespace Mvtap.Linux.Interop;

public static partial class Fsync
{
    private const int O_RDONLY = 0, O_DIRECTORY = 0x10000, O_CLOEXEC = 0x80000;

    [LibraryImport(Libc.Name, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, int mode);

    [LibraryImport(Libc.Name, EntryPoint = "fsync", SetLastError = true)]
    private static partial int fsync(int fd);

    public static void Directory(string path)
    {
        using var fd = new FileDescriptor(Libc.Check(open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0), $"open({path})"));
        Libc.Check(fsync(fd.Fd), $"fsync({path})");
    }
}
