// The current SET_MEM_TABLE: translates guest physical addresses (descriptor buffers) and
// frontend virtual addresses (ring locations) to host pointers, bounds-checked on every access.
// Immutable once built; the owner swaps whole tables while the rings are locked. A table is
// refused whole, before anything is mapped, when a region is empty or overflows, when two
// regions overlap in guest physical or in frontend virtual addresses (an address would mean
// two memories; rust-vmm refuses overlaps too), or when a file is too short or, under
// GuestMemoryPolicy.Sealed, could shrink.
using Mvtap.Core.Model;
using Mvtap.VhostUser.Protocol;

namespace Mvtap.VhostUser.Memory;

public sealed unsafe class GuestMemoryTable : IDisposable
{
    private readonly MemoryRegion[] _regions;

    public GuestMemoryTable(MemoryRegion[] regions) => _regions = regions;

    public IReadOnlyList<MemoryRegion> Regions => _regions;

    /// <summary>Regions whose file could still shrink under the mapping (see MemoryRegion).</summary>
    public int UnsealedRegions => _regions.Count(r => !r.ShrinkSealed);

    /// <summary>Maps every region of a SET_MEM_TABLE once all of them are found acceptable; on a
    /// failure while mapping, unmaps what was mapped. <paramref name="policy"/>: whether files
    /// that are not sealed against shrinking are refused.</summary>
    public static GuestMemoryTable Map(ReadOnlySpan<MemoryRegionDescriptor> regions, ReadOnlySpan<Mvtap.Linux.Interop.FileDescriptor> fds,
        GuestMemoryPolicy policy = GuestMemoryPolicy.Sealed)
    {
        if (fds.Length != regions.Length) throw new ArgumentException("one descriptor per region", nameof(fds));
        foreach (var r in regions) MemoryRegion.Validate(r);
        RefuseOverlaps(regions);
        var files = new (bool ShrinkSealed, long BlockSize)[regions.Length];
        for (int k = 0; k < regions.Length; k++) files[k] = MemoryRegion.Inspect(regions[k], fds[k], policy == GuestMemoryPolicy.Sealed);

        var mapped = new MemoryRegion[regions.Length];
        int i = 0;
        try
        {
            for (; i < regions.Length; i++) mapped[i] = MemoryRegion.Map(regions[i], fds[i], files[i].ShrinkSealed, files[i].BlockSize);
            return new GuestMemoryTable(mapped);
        }
        catch
        {
            for (int j = 0; j < i; j++) mapped[j].Dispose();
            throw;
        }
    }

    private static void RefuseOverlaps(ReadOnlySpan<MemoryRegionDescriptor> regions)
    {
        for (int i = 0; i < regions.Length; i++)
            for (int j = i + 1; j < regions.Length; j++)
            {
                var a = regions[i];
                var b = regions[j];
                if (Overlap(a.GuestPhysAddr, b.GuestPhysAddr, a.Size, b.Size))
                    throw new VhostUserProtocolException($"memory regions {i} and {j} overlap in guest physical addresses " +
                        $"(0x{a.GuestPhysAddr:x}+0x{a.Size:x}, 0x{b.GuestPhysAddr:x}+0x{b.Size:x})");
                if (Overlap(a.UserAddr, b.UserAddr, a.Size, b.Size))
                    throw new VhostUserProtocolException($"memory regions {i} and {j} overlap in frontend addresses " +
                        $"(0x{a.UserAddr:x}+0x{a.Size:x}, 0x{b.UserAddr:x}+0x{b.Size:x})");
            }
    }

    // Ranges [a, a+aSize) and [b, b+bSize), both non-empty and not wrapping (Validate).
    private static bool Overlap(ulong a, ulong b, ulong aSize, ulong bSize) => a < b + bSize && b < a + aSize;

    /// <summary>Host pointer for guest physical address <paramref name="gpa"/> and how many of the
    /// <paramref name="length"/> bytes are contiguous from there (a range may continue in an
    /// adjacent region; the caller asks again for the rest). False if gpa is in no region.</summary>
    internal bool TryTranslateGuest(ulong gpa, ulong length, out byte* host, out ulong contiguous)
    {
        foreach (var r in _regions)
            if (r.TryGuest(gpa, length, out host, out contiguous)) return true;
        host = null;
        contiguous = 0;
        return false;
    }

    /// <summary>Host pointer for a range that must lie entirely in one region (an indirect
    /// descriptor table).</summary>
    internal bool TryTranslateGuestWhole(ulong gpa, ulong length, out byte* host)
    {
        if (TryTranslateGuest(gpa, length, out host, out ulong contiguous) && contiguous == length) return true;
        host = null;
        return false;
    }

    /// <summary>Host pointer for a range in the frontend's virtual address space (SET_VRING_ADDR);
    /// the whole range must lie in one region.</summary>
    internal bool TryTranslateUser(ulong qva, ulong length, out byte* host)
    {
        foreach (var r in _regions)
            if (r.TryUser(qva, length, out host)) return true;
        host = null;
        return false;
    }

    /// <summary>A bounds-checked view of guest physical memory, or false if any byte of the range
    /// is outside a single region.</summary>
    public bool TryGetGuestSpan(ulong gpa, int length, out Span<byte> span)
    {
        if (length >= 0 && TryTranslateGuestWhole(gpa, (ulong)length, out byte* p)) { span = new Span<byte>(p, length); return true; }
        span = default;
        return false;
    }

    /// <summary>A bounds-checked view of the frontend's virtual memory.</summary>
    public bool TryGetUserSpan(ulong qva, int length, out Span<byte> span)
    {
        if (length >= 0 && TryTranslateUser(qva, (ulong)length, out byte* p)) { span = new Span<byte>(p, length); return true; }
        span = default;
        return false;
    }

    public void Dispose()
    {
        foreach (var r in _regions) r.Dispose();
    }
}
