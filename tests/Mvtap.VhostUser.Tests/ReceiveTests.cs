// Guest receive (RX vring): frames given to DeliverToGuest land in the guest's buffers with a
// correct header and num_buffers, with and without MRG_RXBUF.
using System.Buffers.Binary;
using Mvtap.Core.Frames;
using Mvtap.VhostUser.Net;
using Mvtap.VhostUser.Tests.Frontend;

namespace Mvtap.VhostUser.Tests;

public class ReceiveTests
{
    private static FrameBatch One(byte[] frame, byte[]? header = null)
    {
        var b = new FrameBatch(1);
        b.Set(0, header ?? Frames.Header(), frame);
        return b;
    }

    [Fact]
    public void Without_mrg_rxbuf_one_buffer_gets_header_and_frame_with_num_buffers_1()
    {
        using var h = new BackendHarness();
        var (_, m, rings) = h.Up(Feature.Basic);
        ulong buf = m.Alloc(2048);
        ushort head = rings[0].AddChain(new Seg(buf, 2048, Write: true));
        var frame = Frames.Make(90);

        Assert.Equal(1, h.Backend.DeliverToGuest(0, One(frame), 1));
        Assert.Equal(1, rings[0].UsedIdx);
        Assert.Equal((head, 12u + 90u), rings[0].UsedElem(0));
        var got = m.Span(buf, 12 + 90);
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(got[10..]));
        Assert.Equal(frame, got[12..].ToArray());
        Assert.Equal(1UL, h.TakeCalls(rings[0]));
        Assert.Equal(1, h.Backend.Counters.RxFrames);
    }

    [Fact]
    public void Without_mrg_rxbuf_a_chain_of_several_descriptors_holds_a_big_frame()
    {
        using var h = new BackendHarness();
        var (_, m, rings) = h.Up(Feature.Basic);
        // Linux "big packets" mode: a header descriptor, then page-sized ones.
        ulong hb = m.Alloc(12);
        var pages = Enumerable.Range(0, 3).Select(_ => m.Alloc(4096)).ToArray();
        rings[0].AddChain([new Seg(hb, 12, true), .. pages.Select(p => new Seg(p, 4096, true))]);
        var frame = Frames.Make(9000, seed: 5);

        Assert.Equal(1, h.Backend.DeliverToGuest(0, One(frame), 1));
        Assert.Equal(12u + 9000u, rings[0].UsedElem(0).Len);
        var got = Frames.Concat(pages.Select(p => m.Span(p, 4096).ToArray()).ToArray()).AsSpan(0, 9000).ToArray();
        Assert.Equal(frame, got);
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(m.Span(hb + 10, 2)));
    }

    [Fact]
    public void With_mrg_rxbuf_a_frame_spans_several_buffers_and_num_buffers_counts_them()
    {
        using var h = new BackendHarness();
        var (_, m, rings) = h.Up(Feature.Mrg);
        var bufs = Enumerable.Range(0, 4).Select(_ => m.Alloc(1536)).ToArray();
        var heads = bufs.Select(b => rings[0].AddChain(new Seg(b, 1536, true))).ToArray();
        var frame = Frames.Make(4000, seed: 7);

        Assert.Equal(1, h.Backend.DeliverToGuest(0, One(frame), 1));
        // 12 + 4000 = 4012 bytes = 1536 + 1536 + 940: three buffers, published together.
        Assert.Equal(3, rings[0].UsedIdx);
        Assert.Equal((heads[0], 1536u), rings[0].UsedElem(0));
        Assert.Equal((heads[1], 1536u), rings[0].UsedElem(1));
        Assert.Equal((heads[2], 940u), rings[0].UsedElem(2));
        Assert.Equal(3, BinaryPrimitives.ReadUInt16LittleEndian(m.Span(bufs[0] + 10, 2)));
        var got = Frames.Concat(m.Span(bufs[0] + 12, 1524).ToArray(), m.Span(bufs[1], 1536).ToArray(), m.Span(bufs[2], 940).ToArray());
        Assert.Equal(frame, got);

        // The fourth buffer is still there for the next frame.
        Assert.Equal(1, h.Backend.DeliverToGuest(0, One(Frames.Make(60)), 1));
        Assert.Equal((heads[3], 72u), rings[0].UsedElem(3));
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(m.Span(bufs[3] + 10, 2)));
    }

    [Fact]
    public void With_mrg_rxbuf_a_64KB_GSO_frame_to_a_guest_that_acked_guest_tso()
    {
        using var h = new BackendHarness();
        var (_, m, rings) = h.Up(Feature.Offloads, size: 1024);
        var bufs = Enumerable.Range(0, 48).Select(_ => m.Alloc(1536)).ToArray();
        foreach (var b in bufs) rings[0].AddChain(new Seg(b, 1536, true));
        var hdr = Frames.Header(flags: VirtioNetHeader.FlagNeedsCsum, gsoType: VirtioNetHeader.GsoTcpV4, hdrLen: 66, gsoSize: 1448, csumStart: 34, csumOffset: 16);
        var frame = Frames.Make(65535 + 14 - 1);

        Assert.Equal(1, h.Backend.DeliverToGuest(0, One(frame, hdr), 1));
        int n = (12 + frame.Length + 1535) / 1536;
        Assert.Equal(n, rings[0].UsedIdx);
        var got = m.Span(bufs[0], 12).ToArray();
        Assert.Equal(hdr.AsSpan(0, 10).ToArray(), got.AsSpan(0, 10).ToArray());
        Assert.Equal(n, BinaryPrimitives.ReadUInt16LittleEndian(got.AsSpan(10)));
    }

    [Fact]
    public void Guest_without_buffers_gets_nothing_and_the_drop_is_counted()
    {
        using var h = new BackendHarness();
        var (_, _, rings) = h.Up(Feature.Mrg);
        var batch = new FrameBatch(3);
        for (int i = 0; i < 3; i++) batch.Set(i, Frames.Header(), Frames.Make(60, i));
        Assert.Equal(0, h.Backend.DeliverToGuest(0, batch, 3));
        Assert.Equal(3, h.Backend.Counters.RxDropNoBuffer);
        Assert.Equal(0, rings[0].UsedIdx);
        Assert.Equal(0UL, h.TakeCalls(rings[0]));
    }

    [Fact]
    public void Mrg_frame_that_runs_out_of_buffers_half_way_consumes_none_and_the_caller_may_keep_it()
    {
        using var h = new BackendHarness();
        var (_, m, rings) = h.Up(Feature.Mrg | VirtioNetFeatures.EventIdx);
        ulong b0 = m.Alloc(1024);
        rings[0].AddChain(new Seg(b0, 1024, true));
        var batch = new FrameBatch(2);
        batch.Set(0, Frames.Header(), Frames.Make(3000));
        batch.Set(1, Frames.Header(), Frames.Make(100));

        Assert.Equal(0, h.Backend.DeliverToGuest(0, batch, 0, 2, dropWhenNoBuffers: false, out int taken));
        Assert.Equal(0, taken);
        Assert.Equal(0, rings[0].UsedIdx);
        Assert.Equal(0, h.Backend.Counters.RxDropNoBuffer);
        Assert.Equal(1, rings[0].AvailEvent); // kick me when you post past the one buffer I saw

        // The guest posts more; the kept frames go through.
        for (int i = 0; i < 4; i++) rings[0].AddChain(new Seg(m.Alloc(1024), 1024, true));
        Assert.Equal(2, h.Backend.DeliverToGuest(0, batch, 0, 2, dropWhenNoBuffers: false, out taken));
        Assert.Equal(2, taken);
        Assert.Equal(4, rings[0].UsedIdx);
    }

    [Fact]
    public void Without_mrg_a_frame_larger_than_the_chain_is_dropped_and_the_buffer_stays()
    {
        using var h = new BackendHarness();
        var (_, m, rings) = h.Up(Feature.Basic);
        ulong b = m.Alloc(1024);
        ushort head = rings[0].AddChain(new Seg(b, 1024, true));
        var batch = new FrameBatch(2);
        batch.Set(0, Frames.Header(), Frames.Make(1500));
        batch.Set(1, Frames.Header(), Frames.Make(500, seed: 2));
        Assert.Equal(1, h.Backend.DeliverToGuest(0, batch, 2));
        Assert.Equal(1, h.Backend.Counters.RxDropTooBig);
        Assert.Equal((head, 512u), rings[0].UsedElem(0));
        Assert.Equal(Frames.Make(500, seed: 2), m.Span(b + 12, 500).ToArray());
    }

    [Fact]
    public void Offloads_the_guest_did_not_ack_are_not_delivered_and_data_valid_is_cleared()
    {
        using var h = new BackendHarness();
        var (_, m, rings) = h.Up(Feature.Mrg);
        var bufs = Enumerable.Range(0, 3).Select(_ => m.Alloc(2048)).ToArray();
        foreach (var b in bufs) rings[0].AddChain(new Seg(b, 2048, true));
        var batch = new FrameBatch(3);
        batch.Set(0, Frames.Header(flags: VirtioNetHeader.FlagNeedsCsum, csumStart: 34, csumOffset: 16), Frames.Make(100));
        batch.Set(1, Frames.Header(gsoType: VirtioNetHeader.GsoTcpV6, gsoSize: 1400), Frames.Make(100));
        batch.Set(2, Frames.Header(flags: VirtioNetHeader.FlagDataValid), Frames.Make(100));
        Assert.Equal(1, h.Backend.DeliverToGuest(0, batch, 3));
        Assert.Equal(2, h.Backend.Counters.RxDropOffload);
        Assert.Equal(0, m.Span(bufs[0], 1)[0]); // DATA_VALID stripped: the guest did not ack GUEST_CSUM
    }

    [Fact]
    public void Legacy_device_without_version_1_uses_a_10_byte_header()
    {
        using var h = new BackendHarness();
        var (_, m, rings) = h.Up(VirtioNetFeatures.ProtocolFeatures);
        ulong b = m.Alloc(256);
        rings[0].AddChain(new Seg(b, 256, true));
        var frame = Frames.Make(60);
        Assert.Equal(1, h.Backend.DeliverToGuest(0, One(frame), 1));
        Assert.Equal(70u, rings[0].UsedElem(0).Len);
        Assert.Equal(frame, m.Span(b + 10, 60).ToArray());

        var tx = Frames.Concat(new byte[10], frame);
        rings[1].AddChain(new Seg(m.Put(tx), (uint)tx.Length));
        var batch = new FrameBatch(1);
        Assert.Equal(1, h.Backend.ReceiveFromGuest(0, batch));
        Assert.Equal(frame, batch.Frame(0).ToArray());
    }

    [Fact]
    public void Disabled_receive_queue_delivers_nothing()
    {
        using var h = new BackendHarness();
        var (f, m, rings) = h.Up(Feature.Basic);
        rings[0].AddChain(new Seg(m.Alloc(2048), 2048, true));
        f.SetState(Protocol.VhostUserRequest.SetVringEnable, 0, 0);
        Assert.Equal(0, h.Backend.DeliverToGuest(0, One(Frames.Make(60)), 1));
        Assert.Equal(1, h.Backend.Counters.RxDropNotReady);
        Assert.Equal(0, rings[0].UsedIdx);
    }
}
