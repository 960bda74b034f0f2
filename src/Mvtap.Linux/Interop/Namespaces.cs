// setns(2)/unshare(2): moving the calling thread between network namespaces.
using System.Runtime.InteropServices;

namespace Mvtap.Linux.Interop;

public static partial class Namespaces
{
    public const int CLONE_NEWNET = 0x40000000;

    [LibraryImport(Libc.Name, EntryPoint = "setns", SetLastError = true)]
    public static partial int setns(int fd, int nstype);

    [LibraryImport(Libc.Name, EntryPoint = "unshare", SetLastError = true)]
    public static partial int unshare(int flags);

    [LibraryImport(Libc.Name, EntryPoint = "getpid")]
    public static partial int getpid();

    [LibraryImport(Libc.Name, EntryPoint = "gettid")]
    public static partial int gettid();
}
