// chown(2) for files mvtapd creates (the control socket, attachment points), so the group or
// user named in the configuration can use them.
using System.Runtime.InteropServices;

namespace Mvtap.Linux.Interop;

public static partial class Ownership
{
    [LibraryImport(Libc.Name, EntryPoint = "chown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int chown(string path, int uid, int gid);

    /// <summary>-1 leaves that id unchanged.</summary>
    public static void Change(string path, int uid, int gid) => Libc.Check(chown(path, uid, gid), $"chown({path})");
}
