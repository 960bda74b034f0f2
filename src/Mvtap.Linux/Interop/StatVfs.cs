// statvfs(3): a file system's free space and mount flags (read-only), for `mvtap doctor`'s checks
// of the state directory. struct statvfs is glibc's x86_64/aarch64 layout (112 bytes).
using System.Runtime.InteropServices;

namespace Mvtap.Linux.Interop;

[StructLayout(LayoutKind.Sequential)]
public unsafe struct StatVfsBuffer
{
    public ulong BlockSize;        // f_bsize
    public ulong FragmentSize;     // f_frsize
    public ulong Blocks;           // f_blocks
    public ulong BlocksFree;       // f_bfree
    public ulong BlocksAvailable;  // f_bavail: free to unprivileged users
    public ulong Files;            // f_files
    public ulong FilesFree;        // f_ffree
    public ulong FilesAvailable;   // f_favail
    public ulong FsId;             // f_fsid
    public ulong Flags;            // f_flag (ST_RDONLY ...)
    public ulong NameMax;          // f_namemax
    public fixed int Spare[6];     // __f_spare
}

public static unsafe partial class StatVfs
{
    public const ulong ST_RDONLY = 1;

    [LibraryImport(Libc.Name, EntryPoint = "statvfs", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statvfs(string path, StatVfsBuffer* buf);

    public static StatVfsBuffer Of(string path)
    {
        StatVfsBuffer b;
        Libc.Check(statvfs(path, &b), $"statvfs({path})");
        return b;
    }

    /// <summary>Bytes root may still write on the file system holding <paramref name="path"/> (f_bfree: root's reserve included).</summary>
    public static long FreeBytes(string path)
    {
        var b = Of(path);
        return (long)(b.BlocksFree * b.FragmentSize);
    }

    public static bool IsReadOnly(string path) => (Of(path).Flags & ST_RDONLY) != 0;
}
