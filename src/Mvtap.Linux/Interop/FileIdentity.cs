// statx(2) of an open descriptor for what identifies the file it refers to: its device and inode.
// Two descriptors of one namespace (/proc/PID/ns/net and the /run/netns bind mount of it) have the
// same identity, whatever their paths.
using System.Runtime.InteropServices;

namespace Mvtap.Linux.Interop;

public static unsafe partial class FileIdentity
{
    private const int AT_EMPTY_PATH = 0x1000;
    private const uint STATX_INO = 0x100;

    [LibraryImport(Libc.Name, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    /// <summary>(device major, device minor, inode) of the file <paramref name="fd"/> refers to.</summary>
    public static (uint DevMajor, uint DevMinor, ulong Inode) Of(FileDescriptor fd)
    {
        // struct statx is 256 bytes: stx_ino at 32, stx_dev_major at 136, stx_dev_minor at 140 (include/uapi/linux/stat.h)
        byte* b = stackalloc byte[256];
        Libc.Check(statx(fd.Fd, "", AT_EMPTY_PATH, STATX_INO, b), "statx");
        GC.KeepAlive(fd);
        return (*(uint*)(b + 136), *(uint*)(b + 140), *(ulong*)(b + 32));
    }
}
