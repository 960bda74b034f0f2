// close(2) and errno helpers shared by the per-family interop files.
using System.Runtime.InteropServices;

namespace Mvtap.Linux.Interop;

internal static partial class Libc
{
    public const string Name = "libc";

    [LibraryImport(Name, SetLastError = true)]
    public static partial int close(int fd);

    /// <summary>Throws a <see cref="SystemCallException"/> for a -1 result, naming the call.</summary>
    public static int Check(int result, string call)
    {
        if (result < 0) throw new SystemCallException(call, Marshal.GetLastPInvokeError());
        return result;
    }

    public static long Check(long result, string call)
    {
        if (result < 0) throw new SystemCallException(call, Marshal.GetLastPInvokeError());
        return result;
    }
}

/// <summary>A failed system call: the call's name and the errno it set.</summary>
public sealed class SystemCallException(string call, int errno)
    : Exception($"{call}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})")
{
    public string Call { get; } = call;
    public int Errno { get; } = errno;
}
