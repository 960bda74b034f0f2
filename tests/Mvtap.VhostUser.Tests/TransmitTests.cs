// Guest transmit (TX vring): frames placed by the guest come out of ReceiveFromGuest
// byte-identical with their headers, however the guest chains its descriptors.
using Mvtap.Core.Frames;
using Mvtap.VhostUser.Net;
using Mvtap.VhostUser.Tests.Frontend;

namespace Mvtap.VhostUser.Tests;

public class TransmitTests
{
    [Fact]
    public void Frame_in_one_descriptor_comes_out_identical_with_its_header()
    {
        using var h = new BackendHarness();
        var (_, m, rings) = h.Up(Feature.Basic);
        var hdr = Frames.Header();
        var frame = Frames.Make(60);
        ushort head = rings[1].AddChain(new Seg(m.Put(Frames.Concat(hdr, frame)), (uint)(12 + frame.Length)));

        var batch = new FrameBatch(8);
        Assert.Equal(1, h.Backend.ReceiveFromGuest(0, batch));
        Assert.Equal(frame, batch.Frame(0).ToArray());
        Assert.Equal(hdr, batch.Header(0).ToArray());
        Assert.Equal(1, rings[1].UsedIdx);
        Assert.Equal((head, 0u), rings[1].UsedElem(0));
        Assert.Equal(1UL, h.TakeCalls(rings[1]));
        Assert.Equal(1, h.Backend.Counters.TxFrames);
        Assert.Equal(0, h.Backend.ReceiveFromGuest(0, batch));
    }

    [Fact]
    public void Chained_descriptors_with_the_header_split_across_them()
    {
        using var h = new BackendHarness();
        var (_, m, rings) = h.Up(Feature.Basic);
        var hdr = Frames.Header(numBuffers: 0);
        var frame = Frames.Make(1514, seed: 3);
        var bytes = Frames.Concat(hdr, frame);
        // 5 + 9 + 1000 + rest: the header spans two descriptors and the frame three.
        int[] cuts = [5, 9, 1000, bytes.Length - 1014];
        var segs = new List<Seg>();
        int at = 0;
        foreach (int c in cuts)
        {
            segs.Add(new Seg(m.Put(bytes.AsSpan(at, c)), (uint)c));
            at += c;
        }
        rings[1].AddChain(segs.ToArray());
        var batch = new FrameBatch(4);
        Assert.Equal(1, h.Backend.ReceiveFromGuest(0, batch));
        Assert.Equal(frame, batch.Frame(0).ToArray());
        Assert.Equal(hdr, batch.Header(0).ToArray());
    }

    [Fact]
    public void A_batch_of_frames_in_order_and_the_batch_limit_is_respected()
    {
        using var h = new BackendHarness();
        var (_, m, rings) = h.Up(Feature.Basic);
        for (int i = 0; i < 10; i++)
        {
            var bytes = Frames.Concat(Frames.Header(), Frames.Make(64 + i, seed: i));
            rings[1].AddChain(new Seg(m.Put(bytes), (uint)bytes.Length));
        }
        var batch = new FrameBatch(4);
        var seen = new List<byte[]>();
        int n;
        while ((n = h.Backend.ReceiveFromGuest(0, batch)) > 0)
        {
            Assert.True(n <= 4);
            for (int i = 0; i < n; i++) seen.Add(batch.Frame(i).ToArray());
        }
        Assert.Equal(10, seen.Count);
        for (int i = 0; i < 10; i++) Assert.Equal(Frames.Make(64 + i, seed: i), seen[i]);
        Assert.Equal(10, rings[1].UsedIdx);
        Assert.False(h.Backend.ArmKick(VhostUserNetBackend.TxVring(0)));
    }

    [Fact]
    public void Indirect_descriptor_table()
    {
        using var h = new BackendHarness();
        var (_, m, rings) = h.Up(Feature.Basic | VirtioNetFeatures.IndirectDesc);
        var hdr = Frames.Header();
        var frame = Frames.Make(200);
        rings[1].AddIndirect(new Seg(m.Put(hdr), 12), new Seg(m.Put(frame.AsSpan(0, 100)), 100), new Seg(m.Put(frame.AsSpan(100)), 100));
        var batch = new FrameBatch(2);
        Assert.Equal(1, h.Backend.ReceiveFromGuest(0, batch));
        Assert.Equal(frame, batch.Frame(0).ToArray());
    }

    [Fact]
    public void A_64KB_TSO_frame_leaves_whole_with_its_gso_header()
    {
        using var h = new BackendHarness();
        var (_, m, rings) = h.Up(Feature.Offloads);
        var hdr = Frames.Header(flags: VirtioNetHeader.FlagNeedsCsum, gsoType: VirtioNetHeader.GsoTcpV4, hdrLen: 66, gsoSize: 1448, csumStart: 34, csumOffset: 16);
        var frame = Frames.Make(65535 + 14 - 1, seed: 9);
        // Linux puts the header and the linear part first, then page-sized fragments.
        var segs = new List<Seg> { new(m.Put(hdr), 12) };
        for (int at = 0; at < frame.Length; at += 4096)
        {
            int len = Math.Min(4096, frame.Length - at);
            segs.Add(new Seg(m.Put(frame.AsSpan(at, len)), (uint)len));
        }
        rings[1].AddChain(segs.ToArray());
        var batch = new FrameBatch(1);
        Assert.Equal(1, h.Backend.ReceiveFromGuest(0, batch));
        Assert.Equal(frame.Length, batch.Length(0));
        Assert.Equal(frame, batch.Frame(0).ToArray());
        Assert.Equal(hdr, batch.Header(0).ToArray());
    }

    [Fact]
    public void Offload_requests_the_guest_did_not_negotiate_are_dropped_and_counted()
    {
        using var h = new BackendHarness();
        var (_, m, rings) = h.Up(Feature.Mrg); // no CSUM, no HOST_TSO
        var frame = Frames.Make(100);
        foreach (var hdr in new[] { Frames.Header(flags: VirtioNetHeader.FlagNeedsCsum, csumStart: 34, csumOffset: 16),
                                    Frames.Header(gsoType: VirtioNetHeader.GsoTcpV4, gsoSize: 1448) })
        {
            var bytes = Frames.Concat(hdr, frame);
            rings[1].AddChain(new Seg(m.Put(bytes), (uint)bytes.Length));
        }
        var plain = Frames.Concat(Frames.Header(), frame);
        rings[1].AddChain(new Seg(m.Put(plain), (uint)plain.Length));
        var batch = new FrameBatch(4);
        Assert.Equal(1, h.Backend.ReceiveFromGuest(0, batch));
        Assert.Equal(2, h.Backend.Counters.TxDropBadHeader);
        Assert.Equal(3, rings[1].UsedIdx); // dropped chains are still returned to the guest
        Assert.False(h.Backend.IsBroken);
    }

    [Fact]
    public void Frame_larger_than_the_callers_buffer_is_dropped_and_counted()
    {
        using var h = new BackendHarness();
        var (_, m, rings) = h.Up(Feature.Basic);
        var bytes = Frames.Concat(Frames.Header(), Frames.Make(3000));
        rings[1].AddChain(new Seg(m.Put(bytes), (uint)bytes.Length));
        var batch = new FrameBatch(2, frameCapacity: 2048);
        Assert.Equal(0, h.Backend.ReceiveFromGuest(0, batch));
        Assert.Equal(1, h.Backend.Counters.TxDropOversize);
        Assert.Equal(1, rings[1].UsedIdx);
    }

    [Fact]
    public void Started_but_disabled_queue_consumes_and_drops()
    {
        using var h = new BackendHarness();
        var (f, m, rings) = h.Up(Feature.Basic);
        f.SetState(Protocol.VhostUserRequest.SetVringEnable, 1, 0);
        var bytes = Frames.Concat(Frames.Header(), Frames.Make(60));
        rings[1].AddChain(new Seg(m.Put(bytes), (uint)bytes.Length));
        Assert.Equal(0, h.Backend.ReceiveFromGuest(0, new FrameBatch(2)));
        Assert.Equal(1, h.Backend.Counters.TxDropDisabled);
        Assert.Equal(1, rings[1].UsedIdx);
    }

    [Fact]
    public void Buffers_crossing_from_one_region_into_the_adjacent_one_are_gathered()
    {
        using var h = new BackendHarness();
        var (_, m, rings) = h.Up(Feature.Basic, regions: 2);
        var bytes = Frames.Concat(Frames.Header(), Frames.Make(1000));
        ulong boundary = m.Regions[1].GuestPhysAddr;
        ulong at = boundary - 300;
        bytes.CopyTo(m.Span(at, bytes.Length));
        rings[1].AddChain(new Seg(at, (uint)bytes.Length));
        var batch = new FrameBatch(1);
        Assert.Equal(1, h.Backend.ReceiveFromGuest(0, batch));
        Assert.Equal(Frames.Make(1000), batch.Frame(0).ToArray());
    }
}
