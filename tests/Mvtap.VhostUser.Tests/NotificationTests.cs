// Call suppression (EVENT_IDX used_event, or the NO_INTERRUPT flag) and kick requests
// (EVENT_IDX avail_event).
using Mvtap.VhostUser.Net;
using Mvtap.VhostUser.Tests.Frontend;

namespace Mvtap.VhostUser.Tests;

public class NotificationTests
{
    private static int Deliver(BackendHarness h, int frames)
    {
        var batch = new FrameBatch(frames);
        for (int i = 0; i < frames; i++) batch.Set(i, Frames.Header(), Frames.Make(60, i));
        return h.Backend.DeliverToGuest(0, batch, frames);
    }

    [Fact]
    public void Event_idx_calls_only_when_the_used_index_passes_used_event()
    {
        using var h = new BackendHarness();
        var (_, m, rings) = h.Up(Feature.Mrg | VirtioNetFeatures.EventIdx);
        var rx = rings[0];
        for (int i = 0; i < 8; i++) rx.AddChain(new Seg(m.Alloc(2048), 2048, true));

        Assert.Equal(1, Deliver(h, 1));          // used 0 -> 1: first signal after start is unconditional
        Assert.Equal(1UL, h.TakeCalls(rx));

        rx.UsedEvent = 3;                       // "interrupt me once entry 3 is used"
        Assert.Equal(1, Deliver(h, 1));          // 1 -> 2
        Assert.Equal(0UL, h.TakeCalls(rx));
        Assert.Equal(1, Deliver(h, 1));          // 2 -> 3
        Assert.Equal(0UL, h.TakeCalls(rx));
        Assert.Equal(1, Deliver(h, 1));          // 3 -> 4 crosses used_event
        Assert.Equal(1UL, h.TakeCalls(rx));
        Assert.Equal(2, Deliver(h, 2));          // 4 -> 6, used_event still 3: already told
        Assert.Equal(0UL, h.TakeCalls(rx));
        Assert.Equal(6, rx.UsedIdx);
    }

    [Fact]
    public void Event_idx_transmit_asks_for_a_kick_at_the_avail_index_it_has_seen()
    {
        using var h = new BackendHarness();
        var (_, m, rings) = h.Up(Feature.Mrg | VirtioNetFeatures.EventIdx);
        var tx = rings[1];
        for (int i = 0; i < 3; i++)
        {
            var bytes = Frames.Concat(Frames.Header(), Frames.Make(60, i));
            tx.AddChain(new Seg(m.Put(bytes), (uint)bytes.Length));
        }
        var batch = new FrameBatch(8);
        Assert.Equal(3, h.Backend.ReceiveFromGuest(0, batch));
        Assert.False(h.Backend.ArmKick(VhostUserNetBackend.TxVring(0)));
        Assert.Equal(3, tx.AvailEvent);

        // A frame added after the batch but before ArmKick: ArmKick says "look again".
        var more = Frames.Concat(Frames.Header(), Frames.Make(60));
        tx.AddChain(new Seg(m.Put(more), (uint)more.Length));
        Assert.True(h.Backend.ArmKick(VhostUserNetBackend.TxVring(0)));
        Assert.Equal(1, h.Backend.ReceiveFromGuest(0, batch));
    }

    [Fact]
    public void Without_event_idx_no_interrupt_flag_suppresses_calls()
    {
        using var h = new BackendHarness();
        var (_, m, rings) = h.Up(Feature.Mrg);
        var rx = rings[0];
        for (int i = 0; i < 4; i++) rx.AddChain(new Seg(m.Alloc(2048), 2048, true));
        rx.AvailFlags = 1; // VRING_AVAIL_F_NO_INTERRUPT
        Assert.Equal(2, Deliver(h, 2));
        Assert.Equal(0UL, h.TakeCalls(rx));
        rx.AvailFlags = 0;
        Assert.Equal(1, Deliver(h, 1));
        Assert.Equal(1UL, h.TakeCalls(rx));
    }

    [Fact]
    public void Kick_fd_is_exposed_for_the_datapath_and_acknowledged()
    {
        using var h = new BackendHarness();
        var (_, _, rings) = h.Up(Feature.Basic);
        int fd = h.Backend.GetKickFd(VhostUserNetBackend.TxVring(0));
        Assert.True(fd >= 0);
        rings[1].Kick();
        Assert.Equal(1UL, Mvtap.Linux.Interop.EventFd.Drain(fd));
        rings[1].Kick();
        h.Backend.AcknowledgeKick(VhostUserNetBackend.TxVring(0));
        Assert.Equal(0UL, Mvtap.Linux.Interop.EventFd.Drain(fd));
    }

    [Fact]
    public void Need_event_matches_virtio()
    {
        Assert.True(Virtqueue.SplitVirtqueue.NeedEvent(eventIdx: 0, newIdx: 1, oldIdx: 0));
        Assert.False(Virtqueue.SplitVirtqueue.NeedEvent(eventIdx: 5, newIdx: 5, oldIdx: 4));
        Assert.True(Virtqueue.SplitVirtqueue.NeedEvent(eventIdx: 5, newIdx: 6, oldIdx: 4));
        Assert.True(Virtqueue.SplitVirtqueue.NeedEvent(eventIdx: 0xffff, newIdx: 1, oldIdx: 0xfffe)); // wraps
    }
}
