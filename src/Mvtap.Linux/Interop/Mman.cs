// memfd_create(2), ftruncate(2) and the fstat(2) fields vhost-user needs, plus a shared
// read-write mapping of a descriptor through Mmap.cs: guest memory arrives as file descriptors
// that the backend maps MAP_SHARED, and tests build such guest memory with a memfd.
using System.Runtime.InteropServices;

namespace Mvtap.Linux.Interop;

public static unsafe partial class Mman
{
    public const uint MFD_CLOEXEC = 1;
    public const uint MFD_ALLOW_SEALING = 2;

    [LibraryImport(Libc.Name, EntryPoint = "memfd_create", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int memfd_create(string name, uint flags);

    [LibraryImport(Libc.Name, EntryPoint = "ftruncate", SetLastError = true)]
    private static partial int ftruncate(int fd, long length);

    [LibraryImport(Libc.Name, EntryPoint = "fstat", SetLastError = true)]
    private static partial int fstat(int fd, byte* statbuf);

    /// <summary>Maps <paramref name="length"/> bytes of <paramref name="fd"/> from file offset
    /// <paramref name="offset"/>, shared and read-write.</summary>
    public static nint MapShared(FileDescriptor fd, ulong length, long offset = 0)
    {
        if (length > long.MaxValue) throw new ArgumentOutOfRangeException(nameof(length));
        bool added = false;
        try
        {
            fd.DangerousAddRef(ref added);
            return Mmap.Map((nint)length, Mmap.PROT_READ | Mmap.PROT_WRITE, Mmap.MAP_SHARED, fd.Fd, offset);
        }
        finally
        {
            if (added) fd.DangerousRelease();
        }
    }

    public static void Unmap(nint address, ulong length) => Mmap.Unmap(address, (nint)length);

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
