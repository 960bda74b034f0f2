// Guest memory the daemon maps should never vanish under it (SIGBUS, fatal unless the runtime lets
// the fault be caught). By default (GuestMemoryPolicy.Sealed, `guestmem sealed`) only a file
// sealed against shrinking is mapped; an unsealed one is refused before anything is mapped, the
// session is closed and the next frontend is served. With Any it is mapped and the risk is logged;
// changing the policy back to Sealed reports the mapped unsealed memory so the session can be
// ended, and a table being mapped meanwhile is refused. Memory tables that are malformed (too many
// regions, empty or overlapping regions) are refused whole, leaking no descriptor and no mapping.
using Mvtap.Core.Model;
using Mvtap.Linux.Interop;
using Mvtap.VhostUser.Memory;
using Mvtap.VhostUser.Net;
using Mvtap.VhostUser.Protocol;
using Mvtap.VhostUser.Tests.Frontend;

namespace Mvtap.VhostUser.Tests;

public class GuestMemoryHardeningTests
{
    [Fact]
    public void Memory_sealed_against_shrinking_is_mapped_by_default_and_cannot_shrink_under_the_daemon()
    {
        using var h = new BackendHarness();
        Assert.Equal(GuestMemoryPolicy.Sealed, h.Backend.GuestMemory);
        var (_, m, rings) = h.Up(Feature.Basic);
        Assert.True(h.Backend.GuestMemorySealed);
        Assert.Contains(h.Log, l => l.Contains("1 region(s), sealed against shrinking"));
        // the premise: the frontend itself can no longer take the pages away
        var e = Assert.Throws<SystemCallException>(() => Mmap.Truncate(m.Fd, 4096));
        Assert.Equal((int)Errno.EPERM, e.Errno);
        CarriesAFrame(h, m, rings);
    }

    [Fact]
    public void By_default_unsealed_memory_is_refused_without_a_mapping_and_the_next_frontend_is_served()
    {
        using var h = new BackendHarness();
        var f = h.Connect();
        f.Negotiate(Feature.Basic);
        using (var unsealed = new TestGuestMemory(sealShrink: false))
        {
            Assert.Equal(1UL, f.SetMemTable(unsealed));
            Assert.True(f.WaitForClose(), "the session was not closed");
            BackendHarness.WaitUntil(() => !h.Backend.IsConnected, "session ended");
            // only the frontend's own descriptor and mapping are left
            Assert.Equal(1, ProcessFiles.OpenCopies(unsealed.Name));
            Assert.Equal(1, ProcessFiles.Mappings(unsealed.Name));
        }
        Assert.Contains(h.Log, l => l.Contains("protocol error") && l.Contains("not sealed against shrinking") && l.Contains("guestmem sealed"));
        Assert.Equal(1, h.Backend.Counters.ProtocolErrors);
        Assert.Null(h.Backend.GuestMemorySealed);

        var (_, m, rings) = h.Up(Feature.Basic);
        Assert.True(h.Backend.GuestMemorySealed);
        CarriesAFrame(h, m, rings);
    }

    [Fact]
    public void With_any_unsealed_memory_is_mapped_and_the_risk_logged()
    {
        using var h = new BackendHarness(guestMemory: GuestMemoryPolicy.Any);
        var (_, m, rings) = h.Up(Feature.Basic, regions: 2, sealShrink: false);
        Assert.False(h.Backend.GuestMemorySealed);
        Assert.Contains(h.Log, l => l.Contains("2 not sealed against shrinking") && l.Contains("guestmem any") && l.Contains("SIGBUS"));
        CarriesAFrame(h, m, rings);
    }

    [Fact]
    public void Back_to_sealed_the_mapped_unsealed_memory_is_reported_and_its_session_can_be_ended()
    {
        using var h = new BackendHarness(guestMemory: GuestMemoryPolicy.Any);
        var (f, _, _) = h.Up(Feature.Basic, sealShrink: false);
        Assert.False(h.Backend.SetGuestMemory(GuestMemoryPolicy.Any));
        Assert.True(h.Backend.SetGuestMemory(GuestMemoryPolicy.Sealed));
        Assert.Equal(GuestMemoryPolicy.Sealed, h.Backend.GuestMemory);
        h.Endpoint.Disconnect("guestmem sealed");
        Assert.True(f.WaitForClose(), "the session was not closed");
        BackendHarness.WaitUntil(() => !h.Backend.IsConnected, "session ended");
        Assert.Null(h.Backend.GuestMemorySealed);

        // sealed memory is no reason to end a session
        var (_, m, rings) = h.Up(Feature.Basic);
        Assert.False(h.Backend.SetGuestMemory(GuestMemoryPolicy.Sealed));
        CarriesAFrame(h, m, rings);
    }

    [Fact]
    public void Nine_regions_with_nine_descriptors_are_refused_without_leaking_a_descriptor()
    {
        using var h = new BackendHarness();
        var f = h.Connect();
        f.Negotiate(Feature.Basic);
        string name = $"mvtap-nine-{Guid.NewGuid():N}";
        using var memfd = Mmap.MemfdCreate(name);
        Mmap.Truncate(memfd, 9 << 20);
        var regions = new MemoryRegionDescriptor[9];
        for (int i = 0; i < 9; i++)
        {
            ulong at = (ulong)i << 20;
            regions[i] = new MemoryRegionDescriptor(at, 1 << 20, 0x7f00_0000_0000 + at, at);
        }
        var fds = new int[9];
        Array.Fill(fds, memfd.Fd);
        f.Send(VhostUserRequest.SetMemTable, TestFrontend.MemTablePayload(regions), fds, needReply: true);
        Assert.True(f.WaitForClose(), "the session was not closed");
        BackendHarness.WaitUntil(() => !h.Backend.IsConnected, "session ended");
        Assert.Equal(1, h.Backend.Counters.ProtocolErrors);
        Assert.Contains(h.Log, l => l.Contains("protocol error") && l.Contains("more than 8 descriptors"));
        Assert.Null(h.Backend.GuestMemorySealed);
        // every copy the kernel delivered was closed again: only ours is left
        Assert.Equal(1, ProcessFiles.OpenCopies(name));

        var (_, m, rings) = h.Up(Feature.Basic);
        CarriesAFrame(h, m, rings);
    }

    public static TheoryData<string, ulong[]> MalformedTables => new()
    {
        // gpa, size, qva, mmap_offset per region; the memfd holds 4 MiB
        { "has size 0", [0x10000, 0x1000, 0x7f00_0001_0000, 0, 0x20000, 0, 0x7f00_0002_0000, 0x1000] },
        { "overlap in guest physical addresses", [0x10000, 0x2000, 0x7f00_0001_0000, 0, 0x11000, 0x1000, 0x7f00_0009_0000, 0x2000] },
        { "overlap in guest physical addresses", [0x10000, 0x1000, 0x7f00_0001_0000, 0, 0x10000, 0x1000, 0x7f00_0009_0000, 0x1000] },
        { "overlap in frontend addresses", [0x10000, 0x2000, 0x7f00_0001_0000, 0, 0x40000, 0x2000, 0x7f00_0001_1000, 0x2000] },
        { "wraps the address space", [0xffff_ffff_ffff_f000, 0x2000, 0x7f00_0001_0000, 0] },
    };

    [Theory]
    [MemberData(nameof(MalformedTables))]
    public void A_malformed_memory_table_is_refused_whole_leaving_no_mapping_or_descriptor(string why, ulong[] table)
    {
        using var h = new BackendHarness();
        var f = h.Connect();
        f.Negotiate(Feature.Basic);
        using var m = new TestGuestMemory();
        var regions = new MemoryRegionDescriptor[table.Length / 4];
        for (int i = 0; i < regions.Length; i++)
            regions[i] = new MemoryRegionDescriptor(table[4 * i], table[4 * i + 1], table[4 * i + 2], table[4 * i + 3]);
        Assert.Equal(1UL, f.SetMemTable(regions, m.Fd));
        Assert.True(f.WaitForClose(), "the session was not closed");
        BackendHarness.WaitUntil(() => !h.Backend.IsConnected, "session ended");
        Assert.Contains(h.Log, l => l.Contains("protocol error") && l.Contains(why));
        Assert.Equal(1, ProcessFiles.OpenCopies(m.Name));
        Assert.Equal(1, ProcessFiles.Mappings(m.Name));

        var (_, good, rings) = h.Up(Feature.Basic);
        CarriesAFrame(h, good, rings);
    }

    private static void CarriesAFrame(BackendHarness h, TestGuestMemory m, TestVring[] rings)
    {
        var bytes = Frames.Concat(Frames.Header(), Frames.Make(60));
        rings[1].AddChain(new Seg(m.Put(bytes), (uint)bytes.Length));
        Assert.Equal(1, h.Backend.ReceiveFromGuest(0, new FrameBatch(1)));
    }
}
