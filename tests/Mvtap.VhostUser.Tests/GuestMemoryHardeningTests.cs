// Guest memory the daemon maps must never vanish under it (SIGBUS kills the whole daemon): a
// file sealed against shrinking is safe and reported so; an unsealed one is accepted with a
// warning (common frontends do not seal), or refused when the backend requires seals; a memory
// table with more regions (and descriptors) than vhost-user allows is refused cleanly, leaking
// no descriptor.
using System.Buffers.Binary;
using Mvtap.Linux.Interop;
using Mvtap.VhostUser.Net;
using Mvtap.VhostUser.Protocol;
using Mvtap.VhostUser.Tests.Frontend;

namespace Mvtap.VhostUser.Tests;

public class GuestMemoryHardeningTests
{
    [Fact]
    public void Memory_sealed_against_shrinking_is_reported_safe_and_cannot_shrink_under_the_daemon()
    {
        using var h = new BackendHarness();
        var (_, m, rings) = h.Up(Feature.Basic, sealShrink: true);
        Assert.True(h.Backend.GuestMemorySealed);
        Assert.Contains(h.Log, l => l.Contains("1 region(s), sealed against shrinking"));
        // the premise: the frontend itself can no longer take the pages away
        var e = Assert.Throws<SystemCallException>(() => Mman.Truncate(m.Fd, 4096));
        Assert.Equal(1, e.Errno); // EPERM
        CarriesAFrame(h, m, rings);
    }

    [Fact]
    public void Unsealed_memory_is_accepted_with_a_warning()
    {
        using var h = new BackendHarness();
        var (_, m, rings) = h.Up(Feature.Basic, regions: 2);
        Assert.False(h.Backend.GuestMemorySealed);
        Assert.Contains(h.Log, l => l.Contains("2 not sealed against shrinking") && l.Contains("SIGBUS"));
        CarriesAFrame(h, m, rings);
    }

    [Fact]
    public void A_backend_that_requires_seals_refuses_unsealed_memory_and_serves_the_next_frontend()
    {
        using var h = new BackendHarness(requireSealedMemory: true);
        var f = h.Connect();
        f.Negotiate(Feature.Basic);
        using (var unsealed = new TestGuestMemory())
            Assert.Equal(1UL, f.SetMemTable(unsealed));
        Assert.True(f.WaitForClose(), "the session was not closed");
        BackendHarness.WaitUntil(() => !h.Backend.IsConnected, "session ended");
        Assert.Contains(h.Log, l => l.Contains("protocol error") && l.Contains("not sealed against shrinking"));
        Assert.Null(h.Backend.GuestMemorySealed);

        var (_, m, rings) = h.Up(Feature.Basic, sealShrink: true);
        Assert.True(h.Backend.GuestMemorySealed);
        CarriesAFrame(h, m, rings);
    }

    [Fact]
    public void Nine_regions_with_nine_descriptors_are_refused_without_leaking_a_descriptor()
    {
        using var h = new BackendHarness();
        var f = h.Connect();
        f.Negotiate(Feature.Basic);
        string name = $"mvtap-nine-{Guid.NewGuid():N}";
        using var memfd = Mman.MemfdCreate(name);
        Mman.Truncate(memfd, 9 << 20);
        var p = new byte[VhostUserPayload.MemoryTableHeader + 9 * MemoryRegionDescriptor.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(p, 9);
        for (int i = 0; i < 9; i++)
        {
            ulong at = (ulong)i << 20;
            new MemoryRegionDescriptor(at, 1 << 20, 0x7f00_0000_0000 + at, at)
                .Write(p.AsSpan(VhostUserPayload.MemoryTableHeader + i * MemoryRegionDescriptor.Length));
        }
        var fds = new int[9];
        Array.Fill(fds, memfd.Fd);
        f.Send(VhostUserRequest.SetMemTable, p, fds, needReply: true);
        Assert.True(f.WaitForClose(), "the session was not closed");
        BackendHarness.WaitUntil(() => !h.Backend.IsConnected, "session ended");
        Assert.Equal(1, h.Backend.Counters.ProtocolErrors);
        Assert.Contains(h.Log, l => l.Contains("protocol error") && l.Contains("more than 8 descriptors"));
        Assert.Null(h.Backend.GuestMemorySealed);
        // every copy the kernel delivered was closed again: only ours is left
        Assert.Equal(1, OpenCopies(name));

        var (_, m, rings) = h.Up(Feature.Basic);
        CarriesAFrame(h, m, rings);
    }

    private static void CarriesAFrame(BackendHarness h, TestGuestMemory m, TestVring[] rings)
    {
        var bytes = Frames.Concat(Frames.Header(), Frames.Make(60));
        rings[1].AddChain(new Seg(m.Put(bytes), (uint)bytes.Length));
        Assert.Equal(1, h.Backend.ReceiveFromGuest(0, new FrameBatch(1)));
    }

    /// <summary>How many descriptors of this process name the memfd called <paramref name="name"/>.</summary>
    private static int OpenCopies(string name)
    {
        int n = 0;
        foreach (var link in Directory.GetFiles("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(link).LinkTarget?.Contains(name) == true) n++;
            }
            catch (IOException) { /* closed meanwhile */ }
        }
        return n;
    }
}
