// A hostile or broken frontend: messages of the wrong size, unknown requests, too many
// descriptors, bad ring parameters, memory that cannot be mapped. Each is refused (a non-zero
// ack when one was asked for), counted and logged; the session closes and the endpoint serves
// the next frontend.
using System.Buffers.Binary;
using Mvtap.Linux.Interop;
using Mvtap.VhostUser.Net;
using Mvtap.VhostUser.Protocol;
using Mvtap.VhostUser.Tests.Frontend;

namespace Mvtap.VhostUser.Tests;

public class HostileMessageTests
{
    private static byte[] Message(uint request, uint flags, uint size, ReadOnlySpan<byte> payload)
    {
        var b = new byte[VhostUserHeader.Length + payload.Length];
        new VhostUserHeader(request, flags, size).Write(b);
        payload.CopyTo(b.AsSpan(VhostUserHeader.Length));
        return b;
    }

    private static TestFrontend Negotiated(BackendHarness h)
    {
        var f = h.Connect();
        f.Negotiate(Feature.Basic);
        Assert.True(f.ReplyAck);
        return f;
    }

    /// <summary>The session was refused: closed by the backend, one protocol error counted and
    /// logged, and a new frontend is served normally.</summary>
    private static void AssertRefusedAndServedAgain(BackendHarness h, TestFrontend f, string reason)
    {
        Assert.True(f.WaitForClose(), "backend closed the session");
        BackendHarness.WaitUntil(() => !h.Backend.IsConnected, "session ended");
        Assert.Equal(1, h.Backend.Counters.ProtocolErrors);
        Assert.Contains(h.Log, l => l.Contains("protocol error") && l.Contains(reason));

        var (_, m, rings) = h.Up(Feature.Basic);
        var bytes = Frames.Concat(Frames.Header(), Frames.Make(60));
        rings[1].AddChain(new Seg(m.Put(bytes), (uint)bytes.Length));
        Assert.Equal(1, h.Backend.ReceiveFromGuest(0, new FrameBatch(1)));
        Assert.Equal(1, h.Backend.Counters.ProtocolErrors);
    }

    private static ulong Nack(TestFrontend f)
    {
        var (_, payload) = f.ReadReply();
        return BinaryPrimitives.ReadUInt64LittleEndian(payload);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(3u)]
    [InlineData(255u)]
    [InlineData(65536u)]
    public void Ring_size_not_a_power_of_two_up_to_32768(uint size)
    {
        using var h = new BackendHarness();
        var f = Negotiated(h);
        f.Send(VhostUserRequest.SetVringNum, MultiQueueTests.StateBytes(1, size), needReply: true);
        Assert.Equal(1UL, Nack(f));
        AssertRefusedAndServedAgain(h, f, $"size {size}");
    }

    [Fact]
    public void Ring_size_32768_is_accepted()
    {
        using var h = new BackendHarness();
        var f = Negotiated(h);
        Assert.Equal(0UL, f.SetState(VhostUserRequest.SetVringNum, 1, 32768));
    }

    [Fact]
    public void Message_shorter_than_its_header()
    {
        using var h = new BackendHarness();
        var f = h.Connect();
        f.SendRaw(Message((uint)VhostUserRequest.GetFeatures, 1, 0, []).AsSpan(0, 5));
        f.ShutdownSend();
        AssertRefusedAndServedAgain(h, f, "inside a message header");
    }

    [Fact]
    public void Payload_shorter_than_its_header_announces()
    {
        using var h = new BackendHarness();
        var f = h.Connect();
        f.SendRaw(Message((uint)VhostUserRequest.SetFeatures, 1, 8, [1, 2, 3]));
        f.ShutdownSend();
        AssertRefusedAndServedAgain(h, f, "inside a payload");
    }

    [Theory]
    [InlineData(VhostUserRequest.SetVringNum, 4)]
    [InlineData(VhostUserRequest.SetVringAddr, 32)]
    [InlineData(VhostUserRequest.SetFeatures, 16)]
    [InlineData(VhostUserRequest.GetFeatures, 8)]
    [InlineData(VhostUserRequest.SetMemTable, 4)]
    public void Payload_size_wrong_for_the_request_type(VhostUserRequest request, int size)
    {
        using var h = new BackendHarness();
        var f = Negotiated(h);
        f.Send(request, new byte[size], needReply: true);
        Assert.Equal(1UL, Nack(f));
        AssertRefusedAndServedAgain(h, f, "expected");
    }

    [Fact]
    public void Memory_table_whose_region_count_does_not_match_its_size()
    {
        using var h = new BackendHarness();
        var f = Negotiated(h);
        var p = new byte[8 + 32];
        BinaryPrimitives.WriteUInt32LittleEndian(p, 2); // claims two regions, carries one
        using var m = new TestGuestMemory();
        f.Send(VhostUserRequest.SetMemTable, p, [m.Fd.Fd], needReply: true);
        Assert.Equal(1UL, Nack(f));
        AssertRefusedAndServedAgain(h, f, "expected 72");
    }

    [Fact]
    public void Memory_table_with_more_than_8_regions()
    {
        using var h = new BackendHarness();
        var f = Negotiated(h);
        var p = new byte[8 + 9 * 32];
        BinaryPrimitives.WriteUInt32LittleEndian(p, 9);
        f.Send(VhostUserRequest.SetMemTable, p, needReply: true);
        Assert.Equal(1UL, Nack(f));
        AssertRefusedAndServedAgain(h, f, "malformed memory table");
    }

    [Fact]
    public void Oversized_message()
    {
        using var h = new BackendHarness();
        var f = Negotiated(h);
        f.SendRaw(Message((uint)VhostUserRequest.SetFeatures, 1, 1 << 20, new byte[64]));
        AssertRefusedAndServedAgain(h, f, "exceeds");
    }

    [Theory]
    [InlineData(99u)]
    [InlineData((uint)VhostUserRequest.SetLogBase)]   // a real request whose feature was never offered
    [InlineData((uint)VhostUserRequest.SetConfig)]
    public void Unknown_or_unoffered_request(uint request)
    {
        using var h = new BackendHarness();
        var f = Negotiated(h);
        f.SendRaw(Message(request, VhostUserHeader.Version | VhostUserHeader.NeedReplyFlag, 0, []));
        Assert.Equal(1UL, Nack(f));
        AssertRefusedAndServedAgain(h, f, $"unsupported request {request}");
    }

    [Fact]
    public void Too_many_fds_on_one_message()
    {
        using var h = new BackendHarness();
        var f = Negotiated(h);
        var fds = Enumerable.Range(0, 10).Select(_ => EventFd.Create()).ToArray();
        var p = new byte[8];
        // More than the 8 a message may carry: the kernel drops the excess (MSG_CTRUNC), the
        // message cannot be trusted, the session closes without an answer.
        f.Send(VhostUserRequest.SetVringCall, p, fds.Select(x => x.Fd).ToArray(), needReply: true);
        AssertRefusedAndServedAgain(h, f, "more than 8 descriptors");
        foreach (var fd in fds) fd.Dispose();
    }

    [Fact]
    public void Fd_attached_to_a_request_that_takes_none()
    {
        using var h = new BackendHarness();
        var f = Negotiated(h);
        using var e = EventFd.Create();
        f.Send(VhostUserRequest.SetOwner, [], [e.Fd], needReply: true);
        Assert.Equal(1UL, Nack(f));
        AssertRefusedAndServedAgain(h, f, "1 descriptors attached, expected 0");
    }

    [Fact]
    public void Kick_without_its_fd()
    {
        using var h = new BackendHarness();
        var f = Negotiated(h);
        f.Send(VhostUserRequest.SetVringKick, new byte[8], needReply: true);
        Assert.Equal(1UL, Nack(f));
        AssertRefusedAndServedAgain(h, f, "0 descriptors attached, expected 1");
    }

    [Fact]
    public void Wrong_protocol_version_in_flags()
    {
        using var h = new BackendHarness();
        var f = h.Connect();
        f.SendRaw(Message((uint)VhostUserRequest.GetFeatures, 2, 0, []));
        AssertRefusedAndServedAgain(h, f, "version");
    }

    [Fact]
    public void Features_never_offered()
    {
        using var h = new BackendHarness();
        var f = h.Connect();
        f.GetU64(VhostUserRequest.GetProtocolFeatures);
        f.SetU64(VhostUserRequest.SetProtocolFeatures, VhostUserProtocolFeatures.ReplyAck);
        f.ReplyAck = true;
        f.Send(VhostUserRequest.SetFeatures, BitConverter.GetBytes(Feature.Basic | (1UL << 33)), needReply: true);
        Assert.Equal(1UL, Nack(f));
        AssertRefusedAndServedAgain(h, f, "never offered");
    }

    [Fact]
    public void Memory_region_beyond_the_end_of_its_file_is_refused_not_mapped()
    {
        // Touching such a mapping would kill the daemon with SIGBUS.
        using var h = new BackendHarness();
        var f = Negotiated(h);
        using var m = new TestGuestMemory(size: 1 << 20);
        var r = m.Regions[0];
        var tooBig = new MemoryRegionDescriptor(r.GuestPhysAddr, r.Size * 4, r.UserAddr, r.MmapOffset);
        Assert.Equal(1UL, f.SetMemTable([tooBig], m.Fd));
        AssertRefusedAndServedAgain(h, f, "the file has");
    }

    [Fact]
    public void Memory_region_whose_numbers_overflow()
    {
        using var h = new BackendHarness();
        var f = Negotiated(h);
        using var m = new TestGuestMemory();
        var bad = new MemoryRegionDescriptor(ulong.MaxValue - 0x1000, 0x10000, 0x1000, 0);
        Assert.Equal(1UL, f.SetMemTable([bad], m.Fd));
        AssertRefusedAndServedAgain(h, f, "wraps");
    }

    [Fact]
    public void SetVringAddr_pointing_outside_memory_breaks_the_device_but_keeps_the_session()
    {
        using var h = new BackendHarness();
        var f = Negotiated(h);
        using var m = new TestGuestMemory();
        Assert.Equal(0UL, f.SetMemTable(m));
        using var tx = new TestVring(m, 1);
        Assert.Equal(0UL, f.SetState(VhostUserRequest.SetVringNum, 1, 256));
        var a = tx.Address;
        Assert.Equal(1UL, f.SetVringAddr(a with { Desc = m.Qva + m.Size - 96 }));   // table runs off the end
        Assert.True(h.Backend.IsBroken);
        Assert.Contains("descriptor table", h.Backend.BrokenReason);
        Assert.Equal(1, h.Backend.Counters.GuestErrors);
        Assert.Equal(0, h.Backend.Counters.ProtocolErrors);
        Assert.Equal(1UL, f.SetVringAddr(a with { Used = 0x1000 }));                  // outside every region
        f.Sync();
        Assert.True(h.Backend.IsConnected);
        Assert.False(h.Backend.IsQueuePairReady(0));
    }

    [Fact]
    public void SetVringAddr_misaligned()
    {
        using var h = new BackendHarness();
        var f = Negotiated(h);
        using var m = new TestGuestMemory();
        f.SetMemTable(m);
        using var tx = new TestVring(m, 1);
        f.SetState(VhostUserRequest.SetVringNum, 1, 256);
        Assert.Equal(1UL, f.SetVringAddr(tx.Address with { Desc = tx.Address.Desc + 8 }));
        Assert.Contains("misaligned", h.Backend.BrokenReason);
    }

    [Fact]
    public void A_new_memory_table_that_no_longer_holds_the_rings_breaks_the_device()
    {
        using var h = new BackendHarness();
        var (f, m, _) = h.Up(Feature.Basic);
        using var other = new TestGuestMemory();
        var r = other.Regions[0];
        Assert.Equal(0UL, f.SetMemTable([r with { UserAddr = r.UserAddr + (1UL << 32) }], other.Fd));
        Assert.True(h.Backend.IsBroken);
        Assert.Equal(0, h.Backend.ReceiveFromGuest(0, new FrameBatch(1)));
    }
}
