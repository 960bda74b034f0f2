// open(2) with O_PATH|O_NOFOLLOW and statx(2) of that descriptor (AT_EMPTY_PATH): a path looked at
// once and then used through the descriptor (/proc/self/fd/N), so what was checked is what is used,
// not whatever the path names a moment later (a symlink swapped in by the directory's owner between
// a check by path and a connect by path, which follows symlinks).
using System.Runtime.InteropServices;
using Mvtap.Core.Model;

namespace Mvtap.Linux.Interop;

public static unsafe partial class PathHandles
{
    private const int O_PATH = 0x200000, O_NOFOLLOW = 0x20000, AT_EMPTY_PATH = 0x1000;
    private const uint STATX_BASIC_STATS = 0x7ff;

    [LibraryImport(Libc.Name, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, uint mode);

    [LibraryImport(Libc.Name, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    /// <summary>A handle on the node at <paramref name="path"/> itself (a symlink is not followed: the
    /// handle is the symlink's), or null when nothing is there.</summary>
    public static FileDescriptor? OpenNoFollow(string path)
    {
        int fd = open(path, O_PATH | O_NOFOLLOW | FileIo.O_CLOEXEC, 0);
        if (fd >= 0) return new FileDescriptor(fd);
        int errno = Marshal.GetLastPInvokeError();
        if (errno == (int)Errno.ENOENT) return null;
        throw new SystemCallException($"open({path}, O_PATH|O_NOFOLLOW)", errno);
    }

    /// <summary>What the handle is: type, owner, permissions.</summary>
    public static NodeInfo Inspect(FileDescriptor handle)
    {
        byte* b = stackalloc byte[256];
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            Libc.Check(statx(handle.Fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, b), "statx(AT_EMPTY_PATH)");
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
        return DeviceNodes.FromStatx(b);
    }

    /// <summary>The path that names exactly the handle's node while it is open (a magic link in /proc).</summary>
    public static string ProcPath(FileDescriptor handle) => $"/proc/self/fd/{handle.Fd}";
}
