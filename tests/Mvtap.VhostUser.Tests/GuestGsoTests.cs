// VhostUserAttachment delivering GSO frames to a guest that did not negotiate the matching
// GUEST_TSO4/6 (or USO, which is never offered): each segment lands in its own RX chain with a
// header of gso_type NONE, the checksum computed, or left partial (NEEDS_CSUM) when the guest
// acked GUEST_CSUM. A guest with GUEST_TSO4 still gets the frame whole; a frame the segmenter
// refuses is a counted drop.
using System.Buffers.Binary;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Datapath;
using Mvtap.Tests.Gso;
using Mvtap.VhostUser.Net;
using Mvtap.VhostUser.Tests.Frontend;

namespace Mvtap.VhostUser.Tests;

public sealed class GuestGsoTests
{
    private static Endpoint NewEndpoint()
    {
        var port = new Port(new LowerDevice("l", MacAddress.Parse("02:00:00:00:00:01")));
        return port.Create(new EndpointSettings { Name = "mvtap-gso" });
    }

    /// <summary>Posts <paramref name="count"/> 2 KB receive buffers, one chain each.</summary>
    private static ulong[] PostBuffers(TestGuestMemory m, TestVring rx, int count, int size = 2048) =>
        [.. Enumerable.Range(0, count).Select(_ =>
        {
            ulong buf = m.Alloc(size);
            rx.AddChain(new Seg(buf, (uint)size, Write: true));
            return buf;
        })];

    private static List<(byte[] Frame, VirtioNetHeader Vnet)> Expected(byte[] frame, VirtioNetHeader vnet, bool partial)
    {
        var sink = new CollectingSink();
        Assert.Equal(GsoVerdict.Segmented, GsoSegmenter.Segment(frame, vnet, partial, ref sink, out _, out _));
        return sink.Segments;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GuestWithoutTso_GetsEverySegmentInItsOwnChain(bool guestCsum)
    {
        using var h = new BackendHarness();
        var (_, m, rings) = h.Up(Feature.Mrg | (guestCsum ? VirtioNetFeatures.GuestCsum : 0));
        var bufs = PostBuffers(m, rings[0], 64);
        var attachment = new VhostUserAttachment(NewEndpoint(), h.Backend);
        // 64 KB: more segments than one batch for the guest holds, so the batch is flushed between
        var (frame, vnet) = GsoFrames.Build(new GsoFrameSpec(Payload: 65000 - 52, Mss: 1448, TcpOptions: 12));
        var expected = Expected(frame, vnet, guestCsum);
        Assert.True(expected.Count > LowerDatapathBatch);

        attachment.Deliver(new VnetFrame(frame, vnet));
        attachment.Flush();

        Assert.Equal(expected.Count, rings[0].UsedIdx);
        for (int i = 0; i < expected.Count; i++)
        {
            var (seg, hdr) = expected[i];
            Assert.Equal(12u + (uint)seg.Length, rings[0].UsedElem(i).Len);
            var got = m.Span(bufs[i], 12 + seg.Length);
            var header = VirtioNetHeader.Read(got[..12]);
            Assert.Equal(VirtioNetHeader.GsoNone, header.GsoType);
            Assert.Equal(guestCsum ? VirtioNetHeader.FlagNeedsCsum : 0, header.Flags);
            Assert.Equal(hdr.CsumStart, header.CsumStart);
            Assert.Equal(hdr.CsumOffset, header.CsumOffset);
            Assert.Equal(1, header.NumBuffers);
            Assert.Equal(seg, got[12..].ToArray());
            if (!guestCsum) Assert.True(GsoFrames.TransportChecksumVerifies(seg));
        }
        Assert.Equal(expected.Count, h.Backend.Counters.RxFrames);
        Assert.Equal(0, h.Backend.Counters.RxDropOffload);
        Assert.Equal(0, attachment.Endpoint.Counters.RxDropped);
    }

    private const int LowerDatapathBatch = Mvtap.Datapath.LowerDatapath.EndpointBatchSize;

    [Fact]
    public void GuestWithTso4_GetsTheFrameWhole()
    {
        using var h = new BackendHarness();
        var (_, m, rings) = h.Up(Feature.Offloads);
        var bufs = PostBuffers(m, rings[0], 4);
        var attachment = new VhostUserAttachment(NewEndpoint(), h.Backend);
        var (frame, vnet) = GsoFrames.Build(new GsoFrameSpec(Payload: 3000, Mss: 1000));

        attachment.Deliver(new VnetFrame(frame, vnet));
        attachment.Flush();

        Assert.Equal(1, h.Backend.Counters.RxFrames);
        var header = VirtioNetHeader.Read(m.Span(bufs[0], 12));
        Assert.Equal(VirtioNetHeader.GsoTcpV4, header.GsoType);
        Assert.Equal(1000, header.GsoSize);
        Assert.Equal(2, header.NumBuffers);                     // 3066 bytes over two 2 KB buffers
    }

    [Fact]
    public void UsoIsSegmented_ForAGuestThatCannotNegotiateIt()
    {
        using var h = new BackendHarness();
        var (_, m, rings) = h.Up(Feature.Offloads);
        var bufs = PostBuffers(m, rings[0], 8);
        var attachment = new VhostUserAttachment(NewEndpoint(), h.Backend);
        var (frame, vnet) = GsoFrames.Build(new GsoFrameSpec(Udp: true, Payload: 3500, Mss: 1200));
        var expected = Expected(frame, vnet, partial: true);

        attachment.Deliver(new VnetFrame(frame, vnet));
        attachment.Flush();

        Assert.Equal(3, h.Backend.Counters.RxFrames);
        for (int i = 0; i < 3; i++)
            Assert.Equal(expected[i].Frame, m.Span(bufs[i] + 12, expected[i].Frame.Length).ToArray());
    }

    [Fact]
    public void RefusedSegmentation_IsOneCountedDrop()
    {
        using var h = new BackendHarness();
        var (_, m, rings) = h.Up(Feature.Mrg);
        PostBuffers(m, rings[0], 8);
        var attachment = new VhostUserAttachment(NewEndpoint(), h.Backend);
        var (frame, vnet) = GsoFrames.Build(new GsoFrameSpec(Payload: 3000, Mss: 1000));
        vnet.CsumStart = 30; // not the TCP header

        attachment.Deliver(new VnetFrame(frame, vnet));
        attachment.Flush();

        Assert.Equal(0, rings[0].UsedIdx);
        Assert.Equal(1, h.Backend.Counters.RxDropOffload);
        Assert.Equal(1, attachment.Endpoint.Counters.RxDropped);
        Assert.Equal(1, attachment.Endpoint.Counters[DropReason.BadVirtioHeader]);
    }

    [Fact]
    public void SegmentingForTheGuest_AllocatesNothing()
    {
        using var h = new BackendHarness();
        var (_, m, rings) = h.Up(Feature.Mrg, size: 1024);
        PostBuffers(m, rings[0], 1000);
        var attachment = new VhostUserAttachment(NewEndpoint(), h.Backend);
        var (frame, vnet) = GsoFrames.Build(new GsoFrameSpec(Payload: 65000 - 52, Mss: 1448, TcpOptions: 12));
        // warm up (JIT, first-call paths) on one frame
        attachment.Deliver(new VnetFrame(frame, vnet));
        attachment.Flush();

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int k = 0; k < 20; k++)
        {
            attachment.Deliver(new VnetFrame(frame, vnet));
            attachment.Flush();
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(21 * 45, h.Backend.Counters.RxFrames);
        Assert.Equal(0, allocated);
    }
}
