// The memory table on its own: both address spaces translate to the same bytes, and every
// range that is not wholly inside a region is refused.
using Mvtap.VhostUser.Memory;
using Mvtap.VhostUser.Tests.Frontend;

namespace Mvtap.VhostUser.Tests;

public class GuestMemoryTableTests
{
    private static GuestMemoryTable Map(TestGuestMemory m) =>
        GuestMemoryTable.Map(m.Regions, Enumerable.Repeat(m.Fd, m.Regions.Length).ToArray());

    [Fact]
    public void Guest_and_user_addresses_reach_the_same_bytes_at_the_mmap_offset()
    {
        using var m = new TestGuestMemory();
        using var table = Map(m);
        ulong gpa = m.Put([1, 2, 3, 4]);
        Assert.True(table.TryGetGuestSpan(gpa, 4, out var g));
        Assert.True(table.TryGetUserSpan(m.ToQva(gpa), 4, out var u));
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, g.ToArray());
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, u.ToArray());
        g[0] = 9;
        Assert.Equal(9, m.Span(gpa, 1)[0]);   // shared, not a copy
    }

    [Fact]
    public void Ranges_outside_or_across_the_region_end_are_refused()
    {
        using var m = new TestGuestMemory();
        using var table = Map(m);
        Assert.False(table.TryGetGuestSpan(m.Gpa - 1, 1, out _));
        Assert.False(table.TryGetGuestSpan(m.End, 1, out _));
        Assert.False(table.TryGetGuestSpan(m.End - 4, 8, out _));
        Assert.True(table.TryGetGuestSpan(m.End - 8, 8, out _));
        Assert.False(table.TryGetGuestSpan(ulong.MaxValue - 2, 8, out _));
        Assert.False(table.TryGetUserSpan(m.Gpa, 8, out _));         // a guest address is not a user address
        Assert.False(table.TryGetUserSpan(m.Qva + m.Size - 4, 8, out _));
    }

    [Fact]
    public void A_whole_span_may_not_straddle_two_adjacent_regions()
    {
        using var m = new TestGuestMemory(split: 2);
        using var table = Map(m);
        ulong boundary = m.Regions[1].GuestPhysAddr;
        Assert.True(table.TryGetGuestSpan(boundary - 8, 8, out _));
        Assert.True(table.TryGetGuestSpan(boundary, 8, out _));
        Assert.False(table.TryGetGuestSpan(boundary - 4, 8, out _));   // descriptor copies split it instead
    }
}
