// mmap(2)/munmap(2) and the memory files mapped through them: shared mappings of kernel rings
// (TPACKET) and of guest memory, which arrives as file descriptors the vhost-user backend maps
// MAP_SHARED; memfd_create(2), ftruncate(2) and the fstat(2) fields such a mapping needs (tests
// and fuzz targets build guest memory with a memfd).
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
    public const uint MFD_CLOEXEC = 1;
    public const uint MFD_ALLOW_SEALING = 2;

    [LibraryImport(Libc.Name, EntryPoint = "mmap", SetLastError = true)]
    private static partial nint mmap(nint addr, nuint length, int prot, int flags, int fd, long offset);

    [LibraryImport(Libc.Name, EntryPoint = "munmap", SetLastError = true)]
    private static partial int munmap(nint addr, nuint length);

    [LibraryImport(Libc.Name, EntryPoint = "memfd_create", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int memfd_create(string name, uint flags);

    [LibraryImport(Libc.Name, EntryPoint = "ftruncate", SetLastError = true)]
    private static partial int ftruncate(int fd, long length);

    [LibraryImport(Libc.Name, EntryPoint = "fstat", SetLastError = true)]
    private static partial int fstat(int fd, byte* statbuf);

    /// <summary>Maps <paramref name="length"/> bytes; throws on MAP_FAILED.</summary>
    public static nint Map(nint length, int prot, int flags, int fd, long offset)
    {
        nint p = mmap(0, (nuint)length, prot, flags, fd, offset);
        if (p == -1) throw new SystemCallException("mmap", Marshal.GetLastPInvokeError());
        return p;
    }

    public static void Unmap(nint address, nint length) =>
        Libc.Check(munmap(address, (nuint)length), "munmap");

    /// <summary>Maps <paramref name="length"/> bytes of <paramref name="fd"/> from file offset
    /// <paramref name="offset"/>, shared and read-write.</summary>
    public static nint MapShared(FileDescriptor fd, ulong length, long offset = 0)
    {
        if (length > long.MaxValue) throw new ArgumentOutOfRangeException(nameof(length));
        bool added = false;
        try
        {
            fd.DangerousAddRef(ref added);
            return Map((nint)length, PROT_READ | PROT_WRITE, MAP_SHARED, fd.Fd, offset);
        }
        finally
        {
            if (added) fd.DangerousRelease();
        }
    }

    /// <summary>Unmaps a mapping made by <see cref="MapShared"/>.</summary>
    public static void Unmap(nint address, ulong length) => Unmap(address, (nint)length);

    public static FileDescriptor MemfdCreate(string name, uint flags = MFD_CLOEXEC) =>
        new(Libc.Check(memfd_create(name, flags), "memfd_create"));

    public static void Truncate(FileDescriptor fd, long length) =>
        Libc.Check(ftruncate(fd.Fd, length), "ftruncate");

    /// <summary>The file's size and preferred block size (4 KiB for a memfd, the huge page size
    /// on hugetlbfs): a mapping must cover whole blocks and never reach past the file's end.</summary>
    public static (long Size, long BlockSize) Stat(FileDescriptor fd)
    {
        // struct stat on x86_64 is 144 bytes; st_size at 48, st_blksize at 56.
        byte* buf = stackalloc byte[256];
        Libc.Check(fstat(fd.Fd, buf), "fstat");
        return (*(long*)(buf + 48), *(long*)(buf + 56));
    }
}
