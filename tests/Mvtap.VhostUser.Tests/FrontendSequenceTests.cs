// The exact start-up orders QEMU 7.2 and DPDK 22.11 virtio-user use (spec 3.2), including
// their oddities: calls and enables before the rings exist, calls before SET_FEATURES.
using Mvtap.VhostUser.Net;
using Mvtap.VhostUser.Protocol;
using Mvtap.VhostUser.Tests.Frontend;

namespace Mvtap.VhostUser.Tests;

public class FrontendSequenceTests
{
    [Fact]
    public void Qemu_7_2_order()
    {
        using var h = new BackendHarness();
        var f = h.Connect();
        using var m = new TestGuestMemory();
        using var rx = new TestVring(m, 0);
        using var tx = new TestVring(m, 1);

        ulong features = f.GetU64(VhostUserRequest.GetFeatures);
        ulong proto = f.GetU64(VhostUserRequest.GetProtocolFeatures);
        f.SetU64(VhostUserRequest.SetProtocolFeatures, proto & 0x1ffff);
        f.ReplyAck = true;
        Assert.Equal(2UL, f.GetU64(VhostUserRequest.GetQueueNum));
        Assert.Equal(0UL, f.Request(VhostUserRequest.SetOwner, []));
        f.GetU64(VhostUserRequest.GetFeatures);
        foreach (var v in new[] { rx, tx })
        {
            Assert.Equal(0UL, f.SetU64(VhostUserRequest.SetVringCall, (ulong)v.Index, [v.CallFd.Fd]));
            Assert.Equal(0UL, f.SetU64(VhostUserRequest.SetVringErr, (ulong)v.Index, [v.CallFd.Fd]));
        }
        for (int i = 0; i < 10; i++) Assert.Equal(0UL, f.SetState(VhostUserRequest.SetVringEnable, (uint)(i % 2), 1));
        Assert.Equal(0UL, f.SetU64(VhostUserRequest.SetFeatures, features & Feature.Offloads));
        ulong status = f.GetU64(VhostUserRequest.GetStatus);
        Assert.Equal(0UL, f.SetU64(VhostUserRequest.SetStatus, status | 0x0f));
        Assert.Equal(0UL, f.SetMemTable(m));
        foreach (var v in new[] { rx, tx })
        {
            Assert.Equal(0UL, f.SetState(VhostUserRequest.SetVringNum, (uint)v.Index, (uint)v.Size));
            Assert.Equal(0UL, f.SetState(VhostUserRequest.SetVringBase, (uint)v.Index, 0));
            Assert.Equal(0UL, f.SetVringAddr(v.Address));
            Assert.Equal(0UL, f.SetU64(VhostUserRequest.SetVringKick, (ulong)v.Index, [v.KickFd.Fd]));
            Assert.Equal(0UL, f.SetU64(VhostUserRequest.SetVringCall, (ulong)v.Index, [v.CallFd.Fd]));
        }
        Assert.True(h.Backend.IsQueuePairReady(0));   // enabled before the rings existed: still enabled

        var bytes = Frames.Concat(Frames.Header(), Frames.Make(442));
        tx.AddChain(new Seg(m.Put(bytes), (uint)bytes.Length));
        Assert.Equal(1, h.Backend.ReceiveFromGuest(0, new FrameBatch(1)));

        // Guest reset: status 0, both rings stopped with their indices.
        Assert.Equal(0UL, f.SetU64(VhostUserRequest.SetStatus, 0));
        Assert.Equal(0u, f.GetVringBase(0).Num);
        Assert.Equal(1u, f.GetVringBase(1).Num);
        Assert.Equal(0, h.Backend.Counters.ProtocolErrors);
    }

    [Fact]
    public void Dpdk_virtio_user_order()
    {
        using var h = new BackendHarness();
        var f = h.Connect();
        using var m = new TestGuestMemory();
        using var rx = new TestVring(m, 0);
        using var tx = new TestVring(m, 1);

        f.Request(VhostUserRequest.SetOwner, []);
        ulong features = f.GetU64(VhostUserRequest.GetFeatures);
        ulong proto = f.GetU64(VhostUserRequest.GetProtocolFeatures);
        f.SetU64(VhostUserRequest.SetProtocolFeatures, proto & (VhostUserProtocolFeatures.Mq | VhostUserProtocolFeatures.ReplyAck | VhostUserProtocolFeatures.Status));
        f.ReplyAck = true;
        Assert.Equal(0UL, f.SetU64(VhostUserRequest.SetVringCall, 0, [rx.CallFd.Fd]));   // before SET_FEATURES
        Assert.Equal(0UL, f.SetU64(VhostUserRequest.SetVringCall, 1, [tx.CallFd.Fd]));
        ulong wanted = VirtioNetFeatures.MrgRxbuf | VirtioNetFeatures.IndirectDesc | VirtioNetFeatures.ProtocolFeatures | VirtioNetFeatures.Version1;
        Assert.Equal(0UL, f.SetU64(VhostUserRequest.SetFeatures, features & wanted));
        Assert.Equal(0UL, f.SetU64(VhostUserRequest.SetStatus, 0x0b));
        f.GetU64(VhostUserRequest.GetStatus);
        Assert.Equal(0UL, f.SetMemTable(m));
        foreach (var v in new[] { rx, tx })
        {
            Assert.Equal(0UL, f.SetState(VhostUserRequest.SetVringNum, (uint)v.Index, (uint)v.Size));
            Assert.Equal(0UL, f.SetState(VhostUserRequest.SetVringBase, (uint)v.Index, 0));
            Assert.Equal(0UL, f.SetVringAddr(v.Address));
            Assert.Equal(0UL, f.SetU64(VhostUserRequest.SetVringKick, (ulong)v.Index, [v.KickFd.Fd]));
        }
        Assert.False(h.Backend.IsQueuePairReady(0));   // PROTOCOL_FEATURES: disabled until enabled
        Assert.Equal(0UL, f.SetState(VhostUserRequest.SetVringEnable, 0, 1));
        Assert.Equal(0UL, f.SetState(VhostUserRequest.SetVringEnable, 1, 1));
        Assert.True(h.Backend.IsQueuePairReady(0));

        rx.AddChain(new Seg(m.Alloc(2048), 2048, true));
        var batch = new FrameBatch(1);
        batch.Set(0, Frames.Header(), Frames.Make(64));
        Assert.Equal(1, h.Backend.DeliverToGuest(0, batch, 1));
        Assert.True(h.TakeCalls(rx) >= 1);

        // Stop: disable, then GET_VRING_BASE.
        Assert.Equal(0UL, f.SetState(VhostUserRequest.SetVringEnable, 0, 0));
        Assert.Equal(0UL, f.SetState(VhostUserRequest.SetVringEnable, 1, 0));
        Assert.Equal(1u, f.GetVringBase(0).Num);
        Assert.Equal(0u, f.GetVringBase(1).Num);
    }
}
