// The descriptors the vhost-user targets attach to requests, made once per process: guest
// memory files (64 KiB sealed against shrinking, 64 KiB unsealed, 4 KiB sealed) and an eventfd.
// Every send duplicates them into the backend, which must close every copy it gets.
using Mvtap.Linux.Interop;

namespace Mvtap.Fuzz.Support;

public static class GuestFiles
{
    public const long MemorySize = 64 * 1024;

    // explicit, so the files exist before the first leak count, not at the first use of a field
    static GuestFiles() { }

    public static readonly FileDescriptor Sealed = Memory(MemorySize, seal: true);
    public static readonly FileDescriptor Unsealed = Memory(MemorySize, seal: false);
    public static readonly FileDescriptor Small = Memory(4096, seal: true);
    public static readonly FileDescriptor Event = EventFd.Create();

    /// <summary>Descriptor kind 0-3 (from an input's bits): sealed, unsealed, small, eventfd.</summary>
    public static int Kind(int kind) => (kind & 3) switch
    {
        0 => Sealed.Fd,
        1 => Unsealed.Fd,
        2 => Small.Fd,
        _ => Event.Fd,
    };

    public static FileDescriptor Memory(long size, bool seal)
    {
        var fd = Mmap.MemfdCreate("mvtap-fuzz-guest", Mmap.MFD_CLOEXEC | Mmap.MFD_ALLOW_SEALING);
        Mmap.Truncate(fd, size);
        if (seal) Seals.Add(fd, Seals.F_SEAL_SHRINK);
        return fd;
    }

    /// <summary>How many descriptors this process has open (a leak check between inputs).</summary>
    public static int OpenDescriptors() => Directory.GetFileSystemEntries("/proc/self/fd").Length;
}
