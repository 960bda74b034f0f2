// Random memory tables against a model of what may be mapped: a table is accepted exactly when
// every region is non-empty, lies inside its file, and overlaps no other region in guest
// physical or in frontend addresses. An accepted table translates every address of every region
// in both address spaces to the file's byte at mmap_offset + distance, and nothing outside the
// regions; a refused one maps nothing.
using CsCheck;
using Mvtap.Core.Model;
using Mvtap.Linux.Interop;
using Mvtap.VhostUser.Memory;
using Mvtap.VhostUser.Protocol;
using Mvtap.VhostUser.Tests.Frontend;

namespace Mvtap.VhostUser.Tests;

public sealed unsafe class GuestMemoryTablePropertyTests : IDisposable
{
    private const int Page = 4096, FilePages = 16;
    private const ulong UserBase = 0x7f00_0000_0000;
    private readonly string _name = $"mvtap-table-prop-{Guid.NewGuid():N}";
    private readonly FileDescriptor _fd;
    private readonly byte* _file;

    public GuestMemoryTablePropertyTests()
    {
        _fd = Mmap.MemfdCreate(_name);
        Mmap.Truncate(_fd, FilePages * Page);
        _file = (byte*)Mmap.MapShared(_fd, FilePages * Page);
        for (int o = 0; o < FilePages * Page; o++) _file[o] = Pattern(o);
    }

    private static byte Pattern(long offset) => (byte)(offset / Page * 31 + offset % 251);

    // per region, in pages: gpa, size, qva, mmap_offset (small numbers, so overlaps are common)
    private static readonly Gen<MemoryRegionDescriptor[]> Tables =
        Gen.Select(Gen.Int[0, 15], Gen.Int[0, 4], Gen.Int[0, 15], Gen.Int[0, 15],
                (g, s, q, o) => new MemoryRegionDescriptor((ulong)g * Page, (ulong)s * Page, UserBase + (ulong)q * Page, (ulong)o * Page))
            .Array[1, 4];

    private static bool Acceptable(MemoryRegionDescriptor[] t)
    {
        for (int i = 0; i < t.Length; i++)
        {
            if (t[i].Size == 0 || t[i].MmapOffset + t[i].Size > FilePages * Page) return false;
            for (int j = i + 1; j < t.Length; j++)
            {
                if (t[i].GuestPhysAddr < t[j].GuestPhysAddr + t[j].Size && t[j].GuestPhysAddr < t[i].GuestPhysAddr + t[i].Size) return false;
                if (t[i].UserAddr < t[j].UserAddr + t[j].Size && t[j].UserAddr < t[i].UserAddr + t[i].Size) return false;
            }
        }
        return true;
    }

    [Fact]
    public void A_table_is_mapped_exactly_when_its_regions_are_nonempty_inside_their_file_and_disjoint()
    {
        Tables.Sample(t =>
        {
            var fds = Enumerable.Repeat(_fd, t.Length).ToArray();
            if (!Acceptable(t))
            {
                Assert.Throws<VhostUserProtocolException>(() => GuestMemoryTable.Map(t, fds, GuestMemoryPolicy.Any).Dispose());
                Assert.Equal(1, ProcessFiles.Mappings(_name)); // ours
                return;
            }
            using var table = GuestMemoryTable.Map(t, fds, GuestMemoryPolicy.Any);
            Assert.Equal(1 + t.Length, ProcessFiles.Mappings(_name));
            foreach (var r in t)
                for (ulong d = 0; d < r.Size; d += 509)
                {
                    long fileOffset = (long)(r.MmapOffset + d);
                    Assert.True(table.TryGetGuestSpan(r.GuestPhysAddr + d, 1, out var g));
                    Assert.Equal(Pattern(fileOffset), g[0]);
                    Assert.True(table.TryGetUserSpan(r.UserAddr + d, 1, out var u));
                    Assert.Equal(Pattern(fileOffset), u[0]);
                }
            for (ulong a = 0; a < 20 * Page; a += Page / 2)
            {
                bool inside = t.Any(r => a >= r.GuestPhysAddr && a < r.GuestPhysAddr + r.Size);
                Assert.Equal(inside, table.TryGetGuestSpan(a, 1, out _));
            }
        }, iter: 300, threads: 1); // one at a time: the mapping counts are per process
    }

    public void Dispose()
    {
        Mmap.Unmap((nint)_file, FilePages * Page);
        _fd.Dispose();
    }
}
