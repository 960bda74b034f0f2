// fsync(2) of a directory: a rename into it is durable only once the directory is synced.
using System.Runtime.InteropServices;

namespace Mvtap.Linux.Interop;

public static partial class Fsync
{
    private const int O_DIRECTORY = 0x10000;

    [LibraryImport(Libc.Name, EntryPoint = "fsync", SetLastError = true)]
    private static partial int fsync(int fd);

    public static void Directory(string path)
    {
        using var fd = FileIo.Open(path, FileIo.O_RDONLY | O_DIRECTORY);
        Libc.Check(fsync(fd.Fd), $"fsync({path})");
    }
}
