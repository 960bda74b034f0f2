// mknod(2)/chmod(2)/statx(2) (chown is Ownership's): what udev would do for a macvtap's /dev/tapN (or a private node for
// it), and looking at an existing node to tell whose device it is.
using System.Runtime.InteropServices;
using Mvtap.Core.Model;

namespace Mvtap.Linux.Interop;

public static partial class DeviceNodes
{
    private const uint S_IFCHR = 0x2000;

    [LibraryImport(Libc.Name, EntryPoint = "mknod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mknod(string path, uint mode, ulong dev);

    private const int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100;
    private const uint STATX_BASIC_STATS = 0x7ff, S_IFMT = 0xf000;

    [LibraryImport(Libc.Name, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport(Libc.Name, EntryPoint = "chmod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int chmod(string path, uint mode);

    /// <summary>Sets the permission bits exactly (mknod's are filtered by the umask).</summary>
    public static void SetPermissions(string path, uint mode) => Libc.Check(chmod(path, mode & 0xfff), $"chmod({path})");

    /// <summary>glibc's makedev: the 64-bit dev_t of (major, minor).</summary>
    public static ulong MakeDev(uint major, uint minor) =>
        ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8) | ((ulong)(minor & 0xffffff00) << 12) | (minor & 0xff);

    /// <summary>Creates a character device node with permission bits <paramref name="mode"/> (e.g. 0o600 = 384).</summary>
    public static void CreateCharacterDevice(string path, uint major, uint minor, uint mode) =>
        Libc.Check(mknod(path, S_IFCHR | (mode & 0xfff), MakeDev(major, minor)), $"mknod({path})");

    /// <summary>Parses "MAJOR:MINOR" as sysfs prints it (/sys/class/net/DEV/tapIFINDEX/dev).</summary>
    public static (uint Major, uint Minor) ParseDevNumber(string text)
    {
        var parts = text.Trim().Split(':');
        if (parts.Length != 2 || !uint.TryParse(parts[0], out uint major) || !uint.TryParse(parts[1], out uint minor))
            throw new FormatException($"not a MAJOR:MINOR device number: '{text.Trim()}'");
        return (major, minor);
    }

    /// <summary>
    /// What is at <paramref name="path"/> (not following a symlink), or null if nothing is. statx
    /// rather than stat because its layout is the same on every architecture and it reports the
    /// device number already split into major and minor.
    /// </summary>
    public static unsafe NodeInfo? Inspect(string path)
    {
        // struct statx is 256 bytes; the offsets below are from include/uapi/linux/stat.h
        byte* b = stackalloc byte[256];
        if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, b) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == (int)Errno.ENOENT) return null;
            throw new SystemCallException($"statx({path})", errno);
        }
        return FromStatx(b);
    }

    /// <summary>A struct statx (256 bytes; offsets from include/uapi/linux/stat.h) as a NodeInfo.</summary>
    internal static unsafe NodeInfo FromStatx(byte* b)
    {
        uint mode = *(ushort*)(b + 28);
        return new NodeInfo(
            IsCharacterDevice: (mode & S_IFMT) == S_IFCHR,
            Major: *(uint*)(b + 128),
            Minor: *(uint*)(b + 132),
            Uid: *(uint*)(b + 20),
            Gid: *(uint*)(b + 24),
            Permissions: mode & 0xfff,
            FileType: mode & S_IFMT);
    }
}

/// <summary>A filesystem node as statx sees it; Major/Minor are the node's st_rdev; FileType is its S_IFMT bits.</summary>
public sealed record NodeInfo(bool IsCharacterDevice, uint Major, uint Minor, uint Uid, uint Gid, uint Permissions, uint FileType = 0)
{
    public const uint S_IFSOCK = 0xc000, S_IFLNK = 0xa000, S_IFDIR = 0x4000;
    public bool IsDirectory => FileType == S_IFDIR;
    public bool IsSocket => FileType == S_IFSOCK;
    public bool IsSymlink => FileType == S_IFLNK;
}
