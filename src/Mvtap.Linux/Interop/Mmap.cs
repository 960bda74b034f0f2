// mmap(2)/munmap(2): shared mappings of kernel rings (TPACKET) and guest memory (memfds).
using System.Runtime.InteropServices;

namespace Mvtap.Linux.Interop;

public static unsafe partial class Mmap
{
    public const int PROT_READ = 1;
    public const int PROT_WRITE = 2;
    public const int MAP_SHARED = 1;
    public const int MAP_PRIVATE = 2;
    public const int MAP_ANONYMOUS = 0x20;
    public const int MAP_LOCKED = 0x2000;
    public const int MAP_POPULATE = 0x8000;

    [LibraryImport(Libc.Name, EntryPoint = "mmap", SetLastError = true)]
    private static partial nint mmap(nint addr, nuint length, int prot, int flags, int fd, long offset);

    [LibraryImport(Libc.Name, EntryPoint = "munmap", SetLastError = true)]
    private static partial int munmap(nint addr, nuint length);

    /// <summary>Maps <paramref name="length"/> bytes; throws on MAP_FAILED.</summary>
    public static nint Map(nint length, int prot, int flags, int fd, long offset)
    {
        nint p = mmap(0, (nuint)length, prot, flags, fd, offset);
        if (p == -1) throw new SystemCallException("mmap", Marshal.GetLastPInvokeError());
        return p;
    }

    public static void Unmap(nint address, nint length) =>
        Libc.Check(munmap(address, (nuint)length), "munmap");
}
