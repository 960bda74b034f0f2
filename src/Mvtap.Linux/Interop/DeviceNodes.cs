// mknod(2)/chown(2): what udev would do for a macvtap's /dev/tapN (or a private node for it).
using System.Runtime.InteropServices;

namespace Mvtap.Linux.Interop;

public static partial class DeviceNodes
{
    private const uint S_IFCHR = 0x2000;

    [LibraryImport(Libc.Name, EntryPoint = "mknod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mknod(string path, uint mode, ulong dev);

    [LibraryImport(Libc.Name, EntryPoint = "chown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int chown(string path, int uid, int gid);

    /// <summary>glibc's makedev: the 64-bit dev_t of (major, minor).</summary>
    public static ulong MakeDev(uint major, uint minor) =>
        ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8) | ((ulong)(minor & 0xffffff00) << 12) | (minor & 0xff);

    /// <summary>Creates a character device node with permission bits <paramref name="mode"/> (e.g. 0o600 = 384).</summary>
    public static void CreateCharacterDevice(string path, uint major, uint minor, uint mode) =>
        Libc.Check(mknod(path, S_IFCHR | (mode & 0xfff), MakeDev(major, minor)), $"mknod({path})");

    /// <summary>Sets owner and group; -1 leaves one unchanged.</summary>
    public static void Chown(string path, int uid, int gid) => Libc.Check(chown(path, uid, gid), $"chown({path})");

    /// <summary>Parses "MAJOR:MINOR" as sysfs prints it (/sys/class/net/DEV/tapIFINDEX/dev).</summary>
    public static (uint Major, uint Minor) ParseDevNumber(string text)
    {
        var parts = text.Trim().Split(':');
        if (parts.Length != 2 || !uint.TryParse(parts[0], out uint major) || !uint.TryParse(parts[1], out uint minor))
            throw new FormatException($"not a MAJOR:MINOR device number: '{text.Trim()}'");
        return (major, minor);
    }
}
