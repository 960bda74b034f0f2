// Guest RAM for the test frontend: a memfd, mapped here, described to the backend as one region
// (or two adjacent ones) whose guest physical and frontend virtual addresses differ from each
// other and whose data starts at a non-zero mmap_offset, so that mixing them up fails. Sealed
// against shrinking unless asked otherwise, as QEMU's memory-backend-memfd is.
using Mvtap.Linux.Interop;
using Mvtap.VhostUser.Protocol;

namespace Mvtap.VhostUser.Tests.Frontend;

public sealed unsafe class TestGuestMemory : IDisposable
{
    public const ulong DefaultGpa = 0x4000_0000;
    public const ulong DefaultQva = 0x7f12_3400_0000;
    public const ulong DefaultOffset = 0x1000;

    private readonly nint _map;
    private readonly ulong _mapLength;
    private readonly int _split;
    private ulong _next;

    /// <param name="sealShrink">seal the memfd against shrinking (F_SEAL_SHRINK), as QEMU's
    /// memory-backend-memfd does by default; false: a memfd its owner can truncate, as DPDK's.</param>
    public TestGuestMemory(ulong size = 4 << 20, int split = 1, bool sealShrink = true)
    {
        Size = size;
        _split = split;
        Name = $"mvtap-test-guest-{Guid.NewGuid():N}";
        Fd = Mmap.MemfdCreate(Name, Mmap.MFD_CLOEXEC | (sealShrink ? Mmap.MFD_ALLOW_SEALING : 0));
        _mapLength = DefaultOffset + size;
        Mmap.Truncate(Fd, (long)_mapLength);
        if (sealShrink) Seals.Add(Fd, Seals.F_SEAL_SHRINK);
        _map = Mmap.MapShared(Fd, _mapLength);
        _next = Gpa + 0x100; // keep address 0 of the region unused
    }

    public FileDescriptor Fd { get; }
    /// <summary>The memfd's name, unique: /proc/self/fd and /proc/self/maps show it.</summary>
    public string Name { get; }
    public ulong Gpa => DefaultGpa;
    public ulong Qva => DefaultQva;
    public ulong Size { get; }
    public ulong End => Gpa + Size;

    /// <summary>The SET_MEM_TABLE entries: the memory cut into <c>split</c> adjacent regions
    /// (all backed by the same memfd at increasing offsets).</summary>
    public MemoryRegionDescriptor[] Regions
    {
        get
        {
            var r = new MemoryRegionDescriptor[_split];
            ulong part = Size / (ulong)_split;
            for (int i = 0; i < _split; i++)
                r[i] = new(Gpa + (ulong)i * part, part, Qva + (ulong)i * part, DefaultOffset + (ulong)i * part);
            return r;
        }
    }

    public ulong ToQva(ulong gpa) => gpa - Gpa + Qva;

    /// <summary>Bump-allocates guest memory; returns its guest physical address.</summary>
    public ulong Alloc(int length, int align = 16)
    {
        ulong a = (_next + (ulong)align - 1) & ~((ulong)align - 1);
        if (a + (ulong)length > End) throw new InvalidOperationException("test guest memory exhausted");
        _next = a + (ulong)length;
        return a;
    }

    /// <summary>Allocates and fills a buffer with <paramref name="data"/>.</summary>
    public ulong Put(ReadOnlySpan<byte> data, int align = 16)
    {
        ulong a = Alloc(Math.Max(1, data.Length), align);
        data.CopyTo(Span(a, data.Length));
        return a;
    }

    public Span<byte> Span(ulong gpa, int length)
    {
        if (gpa < Gpa || gpa + (ulong)length > End) throw new ArgumentOutOfRangeException(nameof(gpa));
        return new Span<byte>((byte*)_map + DefaultOffset + (gpa - Gpa), length);
    }

    public void Dispose()
    {
        Mmap.Unmap(_map, _mapLength);
        Fd.Dispose();
    }
}
