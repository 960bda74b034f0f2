// Who this process is: the effective user id, for "is this root" and "is this our own user".
using System.Runtime.InteropServices;

namespace Mvtap.Linux.Interop;

public static partial class Identity
{
    [LibraryImport(Libc.Name, EntryPoint = "geteuid")]
    private static partial uint geteuid();

    public static uint EffectiveUserId => geteuid();

    public static bool IsRoot => geteuid() == 0;
}
