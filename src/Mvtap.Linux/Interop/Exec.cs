// dup2 + execvp: how `mvtap run` becomes the hypervisor with the TAP's queue descriptor as fd 3
// (the seed's `qemu ... 3<>/dev/tapN`). .NET's Process cannot pass extra descriptors, and the
// CLI has nothing left to do once the command runs, so it replaces itself.
using System.Runtime.InteropServices;

namespace Mvtap.Linux.Interop;

public static unsafe partial class Exec
{
    [LibraryImport(Libc.Name, SetLastError = true)] private static partial int dup2(int oldfd, int newfd);
    [LibraryImport(Libc.Name, SetLastError = true)] private static partial int fcntl(int fd, int cmd, int arg);
    [LibraryImport(Libc.Name, SetLastError = true)] private static partial int execvp(byte* file, byte** argv);

    private const int F_SETFD = 2;

    /// <summary>Makes <paramref name="fd"/> descriptor number <paramref name="target"/> (inherited across exec)
    /// and replaces the process with <paramref name="command"/> (searched in PATH). Returns only on failure,
    /// with the errno.</summary>
    public static int ReplaceProcess(FileDescriptor fd, int target, IReadOnlyList<string> command)
    {
        ArgumentOutOfRangeException.ThrowIfZero(command.Count);
        // dup2 gives the new number no FD_CLOEXEC; when the numbers are equal it does nothing, so clear it
        int r = fd.Fd == target ? fcntl(target, F_SETFD, 0) : dup2(fd.Fd, target);
        if (r < 0) return Marshal.GetLastPInvokeError();
        var argv = (byte**)NativeMemory.AllocZeroed((nuint)(command.Count + 1), (nuint)sizeof(byte*));
        for (int i = 0; i < command.Count; i++) argv[i] = (byte*)Marshal.StringToCoTaskMemUTF8(command[i]);
        execvp(argv[0], argv);
        int errno = Marshal.GetLastPInvokeError();
        for (int i = 0; i < command.Count; i++) Marshal.FreeCoTaskMem((nint)argv[i]);
        NativeMemory.Free(argv);
        return errno;
    }
}
