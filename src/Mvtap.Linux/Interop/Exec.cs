// dup2 + execvp: how `mvtap run` becomes the hypervisor with the TAP's queue descriptor as fd 3
// (the seed's `qemu ... 3<>/dev/tapN`). .NET's Process cannot pass extra descriptors, and the
// CLI has nothing left to do once the command runs, so it replaces itself. execve: how mvtapd
// restarts itself at start-up with a runtime setting that must be in its environment.
using System.Runtime.InteropServices;

namespace Mvtap.Linux.Interop;

public static unsafe partial class Exec
{
    [LibraryImport(Libc.Name, SetLastError = true)] private static partial int dup2(int oldfd, int newfd);
    [LibraryImport(Libc.Name, SetLastError = true)] private static partial int fcntl(int fd, int cmd, int arg);
    [LibraryImport(Libc.Name, SetLastError = true)] private static partial int execvp(byte* file, byte** argv);
    [LibraryImport(Libc.Name, SetLastError = true)] private static partial int execve(byte* path, byte** argv, byte** envp);

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
        byte** argv = Strings(command);
        execvp(argv[0], argv);
        int errno = Marshal.GetLastPInvokeError();
        Free(argv, command.Count);
        return errno;
    }

    /// <summary>Replaces the process with <paramref name="path"/> run with <paramref name="argv"/> and
    /// exactly <paramref name="environment"/> ("NAME=value" each); same pid, same descriptors (those
    /// without FD_CLOEXEC). Returns only on failure, with the errno.</summary>
    public static int ReplaceImage(string path, IReadOnlyList<string> argv, IReadOnlyList<string> environment)
    {
        ArgumentOutOfRangeException.ThrowIfZero(argv.Count);
        byte** args = Strings(argv), env = Strings(environment);
        byte* file = (byte*)Marshal.StringToCoTaskMemUTF8(path);
        execve(file, args, env);
        int errno = Marshal.GetLastPInvokeError();
        Marshal.FreeCoTaskMem((nint)file);
        Free(args, argv.Count);
        Free(env, environment.Count);
        return errno;
    }

    // a NULL-terminated array of UTF-8 C strings
    private static byte** Strings(IReadOnlyList<string> values)
    {
        var array = (byte**)NativeMemory.AllocZeroed((nuint)(values.Count + 1), (nuint)sizeof(byte*));
        for (int i = 0; i < values.Count; i++) array[i] = (byte*)Marshal.StringToCoTaskMemUTF8(values[i]);
        return array;
    }

    private static void Free(byte** array, int count)
    {
        for (int i = 0; i < count; i++) Marshal.FreeCoTaskMem((nint)array[i]);
        NativeMemory.Free(array);
    }
}
