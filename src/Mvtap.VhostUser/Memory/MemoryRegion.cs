// One region of guest memory from SET_MEM_TABLE, mapped from the frontend's descriptor. It knows
// the region's two address spaces (guest physical for descriptors, frontend virtual for ring
// addresses) and owns the mapping.
//
// SIGBUS: touching a mapped page that no longer exists in the file raises SIGBUS, which kills the
// daemon unless the runtime delivers it as an exception (Net/VhostUserNetBackend.Faults.cs). At
// map time the file must be long enough (fstat), which leaves one risk: a frontend that shrinks
// the file later. A file sealed with F_SEAL_SHRINK cannot shrink (QEMU's memory-backend-memfd
// seals by default: seal=on), so such a region is safe for its whole life; the seals are read
// before the size, so the size seen can only grow afterwards. Other files cannot be protected from
// here: MAP_POPULATE would not help (truncation unmaps populated pages too) and would commit all
// guest memory at once. Only the frontend (the VMM process, never the guest) can shrink the file;
// GuestMemoryPolicy.Sealed (an endpoint's default) refuses such files, Any maps them.
using Mvtap.Core.Model;
using Mvtap.Linux.Interop;
using Mvtap.VhostUser.Protocol;

namespace Mvtap.VhostUser.Memory;

public sealed unsafe class MemoryRegion : IDisposable
{
    private nint _mapping;
    private readonly ulong _mappingLength;

    public ulong GuestPhysAddr { get; }
    public ulong UserAddr { get; }
    public ulong Size { get; }
    /// <summary>The file is sealed against shrinking (F_SEAL_SHRINK): it can never lose a page
    /// this mapping covers.</summary>
    public bool ShrinkSealed { get; }
    /// <summary>Host address of the region's first byte (mapping + mmap_offset).</summary>
    internal byte* Host { get; }

    private MemoryRegion(MemoryRegionDescriptor d, nint mapping, ulong mappingLength, bool shrinkSealed)
    {
        ShrinkSealed = shrinkSealed;
        GuestPhysAddr = d.GuestPhysAddr;
        UserAddr = d.UserAddr;
        Size = d.Size;
        _mapping = mapping;
        _mappingLength = mappingLength;
        Host = (byte*)mapping + d.MmapOffset;
    }

    /// <summary>Refuses a region that is empty or whose numbers overflow (no system call).</summary>
    public static void Validate(MemoryRegionDescriptor d)
    {
        if (d.Size == 0) throw new VhostUserProtocolException($"memory region at gpa 0x{d.GuestPhysAddr:x} has size 0");
        if (d.GuestPhysAddr + d.Size < d.GuestPhysAddr || d.UserAddr + d.Size < d.UserAddr)
            throw new VhostUserProtocolException($"memory region at gpa 0x{d.GuestPhysAddr:x} size 0x{d.Size:x} wraps the address space");
        ulong end = d.MmapOffset + d.Size;
        if (end < d.MmapOffset || end > long.MaxValue)
            throw new VhostUserProtocolException($"memory region mmap_offset 0x{d.MmapOffset:x} + size 0x{d.Size:x} overflows");
    }

    /// <summary>Looks at <paramref name="fd"/> before anything is mapped: refuses a file shorter
    /// than the region needs (touching the missing part would be SIGBUS) and, when
    /// <paramref name="requireSealed"/>, a file that is not sealed against shrinking. Returns
    /// whether it is sealed and its block size.</summary>
    public static (bool ShrinkSealed, long BlockSize) Inspect(MemoryRegionDescriptor d, FileDescriptor fd, bool requireSealed)
    {
        // Seals first: once F_SEAL_SHRINK is seen, the size read next can only grow.
        int seals = Seals.Get(fd);
        bool shrinkSealed = seals >= 0 && (seals & Seals.F_SEAL_SHRINK) != 0;
        if (requireSealed && !shrinkSealed)
            throw new VhostUserProtocolException($"memory region at gpa 0x{d.GuestPhysAddr:x}: its file is not sealed against shrinking " +
                "(F_SEAL_SHRINK) and the endpoint maps only sealed guest memory (guestmem sealed; QEMU's memory-backend-memfd seals " +
                "by default, other frontends need guestmem any)");
        var (fileSize, blockSize) = Mmap.Stat(fd);
        ulong end = d.MmapOffset + d.Size;
        if ((ulong)fileSize < end)
            throw new VhostUserProtocolException($"memory region needs 0x{end:x} bytes of its file but the file has 0x{fileSize:x}");
        return (shrinkSealed, blockSize);
    }

    /// <summary>Maps <paramref name="d"/> from <paramref name="fd"/>, which <see cref="Validate"/>
    /// and <see cref="Inspect"/> have accepted.</summary>
    public static MemoryRegion Map(MemoryRegionDescriptor d, FileDescriptor fd, bool shrinkSealed, long blockSize)
    {
        // Map from offset 0 and round up to the block size: hugetlbfs needs whole huge pages.
        ulong end = d.MmapOffset + d.Size;
        ulong block = blockSize > 0 ? (ulong)blockSize : 4096;
        ulong length = (end + block - 1) / block * block;
        nint mapping = Mmap.MapShared(fd, length);
        return new MemoryRegion(d, mapping, length, shrinkSealed);
    }

    /// <summary>Host pointer and the number of bytes (≤ <paramref name="length"/>) that are
    /// contiguous inside this region from guest physical address <paramref name="gpa"/>.</summary>
    internal bool TryGuest(ulong gpa, ulong length, out byte* host, out ulong contiguous)
    {
        ulong offset = gpa - GuestPhysAddr;
        if (gpa < GuestPhysAddr || offset >= Size) { host = null; contiguous = 0; return false; }
        host = Host + offset;
        contiguous = Math.Min(length, Size - offset);
        return true;
    }

    /// <summary>Host pointer for a whole range in the frontend's address space, or false if any
    /// byte of it lies outside this region.</summary>
    internal bool TryUser(ulong qva, ulong length, out byte* host)
    {
        ulong offset = qva - UserAddr;
        if (qva < UserAddr || offset >= Size || length > Size - offset) { host = null; return false; }
        host = Host + offset;
        return true;
    }

    public void Dispose()
    {
        if (_mapping != 0)
        {
            Mmap.Unmap(_mapping, _mappingLength);
            _mapping = 0;
        }
    }
}
