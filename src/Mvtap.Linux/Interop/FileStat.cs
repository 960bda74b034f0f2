// fstat(2) for a descriptor's identity: its inode number. A namespace file (nsfs) opened by any
// path (/run/netns/NAME, /proc/PID/ns/net) has the namespace's inode, "net:[inode]" as the kernel
// prints it; readlink of /proc/self/fd/N would give the path of a bind mount instead.
using System.Runtime.InteropServices;

namespace Mvtap.Linux.Interop;

public static unsafe partial class FileStat
{
    [LibraryImport(Libc.Name, EntryPoint = "fstat", SetLastError = true)]
    private static partial int fstat(int fd, byte* statbuf);

    /// <summary>st_ino of the open file.</summary>
    public static ulong Inode(FileDescriptor fd)
    {
        // struct stat on x86_64 is 144 bytes; st_ino at 8
        byte* buf = stackalloc byte[256];
        bool added = false;
        try
        {
            fd.DangerousAddRef(ref added);
            Libc.Check(fstat(fd.Fd, buf), "fstat");
        }
        finally
        {
            if (added) fd.DangerousRelease();
        }
        return *(ulong*)(buf + 8);
    }
}
