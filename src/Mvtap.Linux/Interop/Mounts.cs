// mount(2)/umount2(2): enough to give one thread a private sysfs of its network namespace, as
// `ip netns exec` does for a whole process.
using System.Runtime.InteropServices;

namespace Mvtap.Linux.Interop;

public static partial class Mounts
{
    public const ulong MS_REC = 0x4000, MS_PRIVATE = 0x40000;
    public const int MNT_DETACH = 2;
    public const int CLONE_NEWNS = 0x00020000;

    [LibraryImport(Libc.Name, EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mount(string? source, string target, string? fsType, ulong flags, nint data);

    [LibraryImport(Libc.Name, EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int umount2(string target, int flags);

    /// <summary>mount(source, target, fsType, flags, NULL).</summary>
    public static void Mount(string? source, string target, string? fsType, ulong flags) =>
        Libc.Check(mount(source, target, fsType, flags, 0), $"mount({target})");
}
