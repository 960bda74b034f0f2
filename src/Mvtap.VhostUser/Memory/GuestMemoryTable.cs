// The current SET_MEM_TABLE: translates guest physical addresses (descriptor buffers) and
// frontend virtual addresses (ring locations) to host pointers, bounds-checked on every access.
// Immutable once built; the owner swaps whole tables while the rings are locked.
using Mvtap.VhostUser.Protocol;

namespace Mvtap.VhostUser.Memory;

public sealed unsafe class GuestMemoryTable : IDisposable
{
    private readonly MemoryRegion[] _regions;

    public GuestMemoryTable(MemoryRegion[] regions) => _regions = regions;

    public IReadOnlyList<MemoryRegion> Regions => _regions;

    /// <summary>Regions whose file could still shrink under the mapping (see MemoryRegion).</summary>
    public int UnsealedRegions => _regions.Count(r => !r.ShrinkSealed);

    /// <summary>Maps every region of a SET_MEM_TABLE; on any failure unmaps what was mapped.
    /// <paramref name="requireSealed"/>: refuse files not sealed against shrinking.</summary>
    public static GuestMemoryTable Map(ReadOnlySpan<MemoryRegionDescriptor> regions, ReadOnlySpan<Mvtap.Linux.Interop.FileDescriptor> fds,
        bool requireSealed = false)
    {
        var mapped = new MemoryRegion[regions.Length];
        int i = 0;
        try
        {
            for (; i < regions.Length; i++) mapped[i] = MemoryRegion.Map(regions[i], fds[i], requireSealed);
            return new GuestMemoryTable(mapped);
        }
        catch
        {
            for (int j = 0; j < i; j++) mapped[j].Dispose();
            throw;
        }
    }

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
