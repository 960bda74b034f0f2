// A hostile guest: descriptors and ring indices that point outside guest memory, loop, or
// break the ring rules. Each must mark the device broken, count one guest error, touch nothing
// outside the table, and leave the control channel and every other endpoint working.
using Mvtap.VhostUser.Net;
using Mvtap.VhostUser.Tests.Frontend;

namespace Mvtap.VhostUser.Tests;

public class HostileGuestTests
{
    /// <summary>Runs a guest-TX batch and checks the device is broken for
    /// <paramref name="reason"/>, counted once, with the session still answering.</summary>
    private static void AssertBrokenOnTransmit(BackendHarness h, TestFrontend f, string reason)
    {
        Assert.Equal(0, h.Backend.ReceiveFromGuest(0, new FrameBatch(4)));
        AssertBroken(h, f, reason);
    }

    private static void AssertBroken(BackendHarness h, TestFrontend f, string reason)
    {
        Assert.True(h.Backend.IsBroken);
        Assert.Contains(reason, h.Backend.BrokenReason);
        Assert.Equal(1, h.Backend.Counters.GuestErrors);
        Assert.Contains(h.Log, l => l.Contains("device broken") && l.Contains(reason));
        f.Sync();                                                 // the control channel still answers
        Assert.Equal(0, h.Backend.ReceiveFromGuest(0, new FrameBatch(4)));
        Assert.Equal(1, h.Backend.Counters.GuestErrors);          // counted once, not per attempt
        Assert.Equal(0, h.Backend.Counters.ProtocolErrors);
    }

    [Fact]
    public void Descriptor_address_outside_every_region()
    {
        using var h = new BackendHarness();
        var (f, _, rings) = h.Up(Feature.Basic);
        rings[1].AddChain(new Seg(0x1000, 100));                  // below the only region
        AssertBrokenOnTransmit(h, f, "outside guest memory");
    }

    [Fact]
    public void Descriptor_address_that_wraps_the_address_space()
    {
        using var h = new BackendHarness();
        var (f, _, rings) = h.Up(Feature.Basic);
        rings[1].AddChain(new Seg(ulong.MaxValue - 10, 100));
        AssertBrokenOnTransmit(h, f, "outside guest memory");
    }

    [Fact]
    public void Descriptor_length_crossing_the_end_of_a_region()
    {
        using var h = new BackendHarness();
        var (f, m, rings) = h.Up(Feature.Basic);
        rings[1].AddChain(new Seg(m.End - 50, 100));
        AssertBrokenOnTransmit(h, f, "outside guest memory");
    }

    [Fact]
    public void Receive_buffer_crossing_the_end_of_a_region_is_not_written_past_it()
    {
        using var h = new BackendHarness();
        var (f, m, rings) = h.Up(Feature.Mrg);
        rings[0].AddChain(new Seg(m.End - 20, 4096, Write: true));
        var batch = new FrameBatch(1);
        batch.Set(0, Frames.Header(), Frames.Make(1000));
        Assert.Equal(0, h.Backend.DeliverToGuest(0, batch, 1));
        Assert.Equal(0, rings[0].UsedIdx);
        AssertBroken(h, f, "outside guest memory");
        Assert.Equal(1, h.Backend.Counters.RxDropNotReady);
    }

    [Fact]
    public void Descriptor_chain_loop()
    {
        using var h = new BackendHarness();
        var (f, m, rings) = h.Up(Feature.Basic);
        ulong buf = m.Alloc(64);
        rings[1].WriteDesc(0, buf, 16, TestVring.Next, 1);
        rings[1].WriteDesc(1, buf, 16, TestVring.Next, 0);
        rings[1].PushAvail(0);
        AssertBrokenOnTransmit(h, f, "loop");
    }

    [Fact]
    public void Receive_chain_loop()
    {
        using var h = new BackendHarness();
        var (f, m, rings) = h.Up(Feature.Basic);
        ulong buf = m.Alloc(64);
        rings[0].WriteDesc(7, buf, 1, TestVring.Next | TestVring.Write, 7);   // points at itself
        rings[0].PushAvail(7);
        var batch = new FrameBatch(1);
        batch.Set(0, Frames.Header(), Frames.Make(1000));
        Assert.Equal(0, h.Backend.DeliverToGuest(0, batch, 1));
        AssertBroken(h, f, "loop");
    }

    [Fact]
    public void Next_index_outside_the_descriptor_table()
    {
        using var h = new BackendHarness();
        var (f, m, rings) = h.Up(Feature.Basic);
        rings[1].WriteDesc(0, m.Alloc(64), 16, TestVring.Next, 999);
        rings[1].PushAvail(0);
        AssertBrokenOnTransmit(h, f, "outside a table");
    }

    [Fact]
    public void Avail_ring_entry_outside_the_descriptor_table()
    {
        using var h = new BackendHarness();
        var (f, _, rings) = h.Up(Feature.Basic);
        rings[1].PushAvail(4000);
        AssertBrokenOnTransmit(h, f, "outside a table");
    }

    [Fact]
    public void Avail_index_more_than_a_ring_ahead()
    {
        using var h = new BackendHarness();
        var (f, _, rings) = h.Up(Feature.Basic);
        rings[1].SetAvailIdx(1000);
        AssertBrokenOnTransmit(h, f, "ahead");
    }

    [Fact]
    public void Transmit_descriptor_marked_device_writable()
    {
        using var h = new BackendHarness();
        var (f, m, rings) = h.Up(Feature.Basic);
        rings[1].AddChain(new Seg(m.Alloc(100), 100, Write: true));
        AssertBrokenOnTransmit(h, f, "device-writable");
    }

    [Fact]
    public void Receive_descriptor_marked_device_readable()
    {
        using var h = new BackendHarness();
        var (f, m, rings) = h.Up(Feature.Basic);
        rings[0].AddChain(new Seg(m.Alloc(2048), 2048, Write: false));
        var batch = new FrameBatch(1);
        batch.Set(0, Frames.Header(), Frames.Make(100));
        Assert.Equal(0, h.Backend.DeliverToGuest(0, batch, 1));
        AssertBroken(h, f, "device-readable");
    }

    [Fact]
    public void Indirect_descriptor_without_negotiating_it()
    {
        using var h = new BackendHarness();
        var (f, m, rings) = h.Up(Feature.Basic);
        rings[1].AddIndirect(new Seg(m.Put(Frames.Concat(Frames.Header(), Frames.Make(60))), 72));
        AssertBrokenOnTransmit(h, f, "INDIRECT_DESC not negotiated");
    }

    [Fact]
    public void Indirect_table_outside_guest_memory()
    {
        using var h = new BackendHarness();
        var (f, _, rings) = h.Up(Feature.Basic | VirtioNetFeatures.IndirectDesc);
        rings[1].WriteDesc(0, 0x10, 64, TestVring.Indirect, 0);
        rings[1].PushAvail(0);
        AssertBrokenOnTransmit(h, f, "indirect table");
    }

    [Fact]
    public void Indirect_table_with_a_length_that_is_not_whole_descriptors()
    {
        using var h = new BackendHarness();
        var (f, m, rings) = h.Up(Feature.Basic | VirtioNetFeatures.IndirectDesc);
        rings[1].WriteDesc(0, m.Alloc(64), 40, TestVring.Indirect, 0);
        rings[1].PushAvail(0);
        AssertBrokenOnTransmit(h, f, "indirect table length");
    }

    [Fact]
    public void Breaking_one_device_leaves_other_endpoints_running()
    {
        using var bad = new BackendHarness();
        using var good = new BackendHarness();
        var (fb, _, badRings) = bad.Up(Feature.Basic);
        var (_, gm, goodRings) = good.Up(Feature.Basic);
        badRings[1].AddChain(new Seg(0x1000, 100));
        AssertBrokenOnTransmit(bad, fb, "outside guest memory");

        var bytes = Frames.Concat(Frames.Header(), Frames.Make(60));
        goodRings[1].AddChain(new Seg(gm.Put(bytes), (uint)bytes.Length));
        Assert.Equal(1, good.Backend.ReceiveFromGuest(0, new FrameBatch(1)));
        Assert.False(good.Backend.IsBroken);
    }

    [Fact]
    public void A_broken_device_runs_again_after_the_frontend_resets_it()
    {
        using var h = new BackendHarness();
        var (f, m, rings) = h.Up(Feature.Basic);
        rings[1].AddChain(new Seg(0x1000, 100));
        AssertBrokenOnTransmit(h, f, "outside guest memory");

        // What QEMU does when the guest driver resets the device: stop every ring, renegotiate,
        // start again where the guest's rings are.
        f.GetVringBase(0);
        f.GetVringBase(1);
        f.Negotiate(Feature.Basic);
        Assert.False(h.Backend.IsBroken);
        using var rx = new TestVring(m, 0);
        using var tx = new TestVring(m, 1);
        f.StartVring(rx);
        f.StartVring(tx);
        var bytes = Frames.Concat(Frames.Header(), Frames.Make(60));
        tx.AddChain(new Seg(m.Put(bytes), (uint)bytes.Length));
        Assert.Equal(1, h.Backend.ReceiveFromGuest(0, new FrameBatch(1)));
    }

    [Fact]
    public void A_call_descriptor_that_cannot_be_written_breaks_the_device_without_throwing()
    {
        using var h = new BackendHarness();
        var (f, m, rings) = h.Up(Feature.Basic);
        var (mine, theirs) = Mvtap.Linux.Interop.UnixSocket.CreatePair();
        mine.Dispose();                                  // writes to the other end now fail (EPIPE)
        f.SetU64(Protocol.VhostUserRequest.SetVringCall, 0, [theirs.Fd]);
        theirs.Dispose();
        f.Sync();
        // the interrupt SET_VRING_CALL asks for is written by the session's call notifier thread, after the answer
        Assert.True(TestNet.WaitFor(() => h.Backend.IsBroken, broken => broken));
        Assert.Contains("call descriptor unusable", h.Backend.BrokenReason);
        Assert.Equal(0, h.Backend.ReceiveFromGuest(0, new FrameBatch(1)));
    }
}
