// AF_PACKET on a veth pair in a private namespace: batches out with sendmmsg, in through the
// TPACKET_V3 ring, the TPACKET_V2 frame ring or recvmmsg, with and without the virtio-net header;
// outgoing suppression; filters.
using Mvtap.Core.Frames;
using Mvtap.Linux.Interop;

namespace Mvtap.Linux.Tests;

public sealed class PacketSocketTests : IDisposable
{
    private readonly VethPair _net = new();

    public void Dispose() => _net.Dispose();

    private static readonly PacketSocketOptions Ring = new() { RxRing = PacketRingGeometry.Default };

    /// <summary>Reads test frames (ethertype 0x88B5) from the ring until <paramref name="want"/> arrived or 5 s passed.</summary>
    private static List<(uint Tag, byte PacketType, int IfIndex, byte[] Data)> ReceiveFromRing(PacketSocket s, int want, int vnet = 0)
    {
        var got = new List<(uint, byte, int, byte[])>();
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (got.Count < want && DateTime.UtcNow < deadline)
        {
            s.WaitReadable(100);
            while (s.Ring!.TryReceive(out var f))
            {
                var eth = f.Data[vnet..];
                if (TestNet.IsTestFrame(eth)) got.Add((TestNet.Tag(eth), f.PacketType, f.IfIndex, f.Data.ToArray()));
            }
        }
        return got;
    }

    private static void SendAll(PacketSocket s, SocketFrameBatch batch)
    {
        int sent = 0;
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (sent < batch.Count && DateTime.UtcNow < deadline)
        {
            int n = s.SendBatch(batch, sent);
            if (n == 0) Sockets.Poll(s.Handle.Fd, Sockets.POLLOUT, 100);
            sent += n;
        }
        Assert.Equal(batch.Count, sent);
    }

    [Fact]
    public void BatchSentOnOneEndArrivesWholeThroughTheRingOnTheOther()
    {
        using var tx = _net.Open(_net.A.Index);
        using var rx = _net.Open(_net.B.Index, Ring);
        using var batch = new SocketFrameBatch(64, 2048);
        for (uint i = 0; i < 64; i++) Assert.True(batch.TryAdd(TestNet.Frame(_net.MacB, _net.MacA, 1000 + i, 60 + (int)i * 20)));
        SendAll(tx, batch);

        var got = ReceiveFromRing(rx, 64);
        Assert.Equal(Enumerable.Range(1000, 64).Select(i => (uint)i), got.Select(g => g.Tag).Order());
        Assert.All(got, g => Assert.Equal(PacketAbi.PACKET_HOST, g.PacketType));
        Assert.All(got, g => Assert.Equal(_net.B.Index, g.IfIndex));
        Assert.All(got, g => Assert.Equal(60 + (int)(g.Tag - 1000) * 20, g.Data.Length));
        Assert.All(got, g => Assert.Equal(TestNet.Frame(_net.MacB, _net.MacA, g.Tag, g.Data.Length), g.Data));
    }

    [Fact]
    public void VnetHeaderTravelsWithEveryFrameAndIsZeroForPlainFrames()
    {
        var opts = new PacketSocketOptions { VnetHeader = true };
        using var tx = _net.Open(_net.A.Index, opts);
        using var rx = _net.Open(_net.B.Index, opts with { RxRing = PacketRingGeometry.Default });
        Assert.Equal(10, rx.VnetHeaderSize);
        using var batch = new SocketFrameBatch(16, 2048);
        for (uint i = 0; i < 16; i++)
        {
            var slot = batch.Reserve();
            slot[..10].Clear(); // virtio_net_hdr: no checksum, no GSO
            var frame = TestNet.Frame(_net.MacB, _net.MacA, 2000 + i, 100);
            frame.CopyTo(slot[10..]);
            batch.Commit(10 + frame.Length);
        }
        SendAll(tx, batch);

        var got = ReceiveFromRing(rx, 16, vnet: 10);
        Assert.Equal(16, got.Count);
        foreach (var g in got)
        {
            Assert.Equal(110, g.Data.Length);
            Assert.All(g.Data[..10], b => Assert.Equal(0, b));
            Assert.Equal(TestNet.Frame(_net.MacB, _net.MacA, g.Tag, 100), g.Data[10..]);
        }
    }

    [Fact]
    public void FramesLargerThanAFrameRingSlotArriveWholeFromTheQueueInTheirPlace()
    {
        // jumbo MTU so frames bigger than a 2 KiB slot can cross the veth
        _net.Rtnl.SetLink(new Netlink.LinkRequest { Name = "pa0", Mtu = 9000 });
        _net.Rtnl.SetLink(new Netlink.LinkRequest { Name = "pb0", Mtu = 9000 });
        var opts = new PacketSocketOptions { VnetHeader = true };
        using var tx = _net.Open(_net.A.Index, opts);
        using var rx = _net.Open(_net.B.Index, opts with { FrameRing = PacketFrameRingGeometry.Default });
        int[] lengths = [100, 5000, 1514, 9014, 60, 2100, 2000, 300];
        using var batch = new SocketFrameBatch(lengths.Length, 10 + 9014);
        for (int i = 0; i < lengths.Length; i++)
        {
            var slot = batch.Reserve();
            slot[..10].Clear();
            var frame = TestNet.Frame(_net.MacB, _net.MacA, 4000 + (uint)i, lengths[i]);
            frame.CopyTo(slot[10..]);
            batch.Commit(10 + frame.Length);
        }
        SendAll(tx, batch);

        var ring = rx.FrameRing!;
        using var queued = new SocketFrameBatch(1, 10 + 9014);
        var got = new List<byte[]>();
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (got.Count < lengths.Length && DateTime.UtcNow < deadline)
        {
            rx.WaitReadable(100);
            while (ring.TryReceive(out var f))
            {
                if (!f.CopiedToQueue)
                {
                    // the interfaces' own chatter (IPv6 solicitations) is not ours to count
                    if (!TestNet.IsTestFrame(f.Data[10..])) continue;
                    Assert.Equal(f.WireLength, (uint)(f.Data.Length - 10));
                    got.Add(f.Data[10..].ToArray());
                    continue;
                }
                // the slot holds the head of the frame; the whole frame is next on the queue
                Assert.True(f.Data.Length - 10 < f.WireLength);
                Assert.Equal(1, rx.ReceiveBatch(queued));
                Assert.Equal((int)f.WireLength + 10, queued.Length(0));
                if (TestNet.IsTestFrame(queued.Frame(0)[10..])) got.Add(queued.Frame(0)[10..].ToArray());
            }
            ring.Release();
        }
        Assert.Equal(lengths.Length, got.Count);
        for (int i = 0; i < lengths.Length; i++)
            Assert.Equal(TestNet.Frame(_net.MacB, _net.MacA, 4000 + (uint)i, lengths[i]), got[i]);
        Assert.False(ring.HasFrame);
        Assert.Equal(0, ring.Held);
    }

    [Fact]
    public void RecvmmsgBatchReceivesWithoutARing()
    {
        using var tx = _net.Open(_net.A.Index);
        using var rx = _net.Open(_net.B.Index);
        using var outBatch = new SocketFrameBatch(32, 2048);
        for (uint i = 0; i < 32; i++) outBatch.TryAdd(TestNet.Frame(_net.MacB, _net.MacA, 3000 + i));
        SendAll(tx, outBatch);

        using var inBatch = new SocketFrameBatch(8, 2048);
        var tags = new List<uint>();
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (tags.Count < 32 && DateTime.UtcNow < deadline)
        {
            rx.WaitReadable(100);
            int n = rx.ReceiveBatch(inBatch);
            Assert.True(n <= 8);
            for (int i = 0; i < n; i++)
            {
                Assert.False(inBatch.Truncated(i));
                if (TestNet.IsTestFrame(inBatch.Frame(i)))
                {
                    Assert.Equal(_net.B.Index, inBatch.IfIndex(i));
                    Assert.Equal(PacketAbi.PACKET_HOST, inBatch.PacketType(i));
                    tags.Add(TestNet.Tag(inBatch.Frame(i)));
                }
            }
        }
        Assert.Equal(Enumerable.Range(3000, 32).Select(i => (uint)i), tags.Order());
    }

    [Fact]
    public void IgnoreOutgoingHidesFramesSentOnTheInterfaceButNotIncomingOnes()
    {
        using var quiet = _net.Open(_net.A.Index, Ring with { IgnoreOutgoing = true });
        using var watcher = _net.Open(_net.A.Index, Ring);
        using var sender = _net.Open(_net.A.Index);
        using var other = _net.Open(_net.B.Index);
        using var batch = new SocketFrameBatch(8, 2048);
        for (uint i = 0; i < 8; i++) batch.TryAdd(TestNet.Frame(_net.MacB, _net.MacA, 4000 + i));
        // From another socket: the kernel never loops a socket's own frames back to it anyway (skb_loop_sk).
        SendAll(sender, batch);

        // The watcher (no IGNORE_OUTGOING) sees them as PACKET_OUTGOING: they really left.
        var seen = ReceiveFromRing(watcher, 8);
        Assert.Equal(8, seen.Count);
        Assert.All(seen, g => Assert.Equal(PacketAbi.PACKET_OUTGOING, g.PacketType));

        // A marker coming in afterwards: once the quiet socket has it, any outgoing copy would be queued before it.
        Assert.True(other.Send(TestNet.Frame(_net.MacA, _net.MacB, 4999)));
        var quietGot = ReceiveFromRing(quiet, 1);
        Assert.Equal([4999u], quietGot.Select(g => g.Tag));
    }

    [Fact]
    public void UnicastMembershipEntersTheLowersAddressListAndLeavesWithTheSocket()
    {
        var mac = TestNet.RandomMac();
        Assert.Equal(0u, _net.Rtnl.GetLink("pb0")!.Promiscuity);
        using (var s = _net.Open(_net.B.Index))
        {
            Assert.Equal(UnicastFilterResult.Filtered, s.AddUnicast(mac));
            Assert.Contains(mac.ToString(), _net.Namespace.Ip("link", "show", "dev", "pb0") + TestNet.Run("bridge", "-n", _net.Namespace.Name, "fdb", "show", "dev", "pb0"));
            // veth has no IFF_UNICAST_FLT: the kernel itself turns the secondary address into promiscuity (spec 4.2).
            Assert.Equal(1u, _net.Rtnl.GetLink("pb0")!.Promiscuity);
            s.DropUnicast(mac, UnicastFilterResult.Filtered);
            Assert.Equal(0u, _net.Rtnl.GetLink("pb0")!.Promiscuity);
            Assert.DoesNotContain(mac.ToString(), TestNet.Run("bridge", "-n", _net.Namespace.Name, "fdb", "show", "dev", "pb0"));

            s.AddUnicast(mac);
        }
        // Closing the socket drops its memberships (once the file is released: a process forked
        // concurrently by another test may hold a copy of the fd for a moment, hence the bounded wait).
        Assert.Equal(0u, TestNet.WaitFor(() => _net.Rtnl.GetLink("pb0")!.Promiscuity, p => p == 0));
        Assert.DoesNotContain(mac.ToString(), TestNet.Run("bridge", "-n", _net.Namespace.Name, "fdb", "show", "dev", "pb0"));
    }

    [Fact]
    public void PromiscuousMembershipIsCountedAndReleased()
    {
        using var s = _net.Open(_net.B.Index);
        s.SetPromiscuous(true);
        Assert.Equal(1u, _net.Rtnl.GetLink("pb0")!.Promiscuity);
        s.SetPromiscuous(false);
        Assert.Equal(0u, _net.Rtnl.GetLink("pb0")!.Promiscuity);
    }

    [Fact]
    public void StatisticsCountRingDeliveries()
    {
        using var tx = _net.Open(_net.A.Index);
        using var rx = _net.Open(_net.B.Index, Ring);
        rx.ReadStatistics(); // reset
        using var batch = new SocketFrameBatch(4, 256);
        for (uint i = 0; i < 4; i++) batch.TryAdd(TestNet.Frame(_net.MacB, _net.MacA, 5000 + i));
        SendAll(tx, batch);
        Assert.Equal(4, ReceiveFromRing(rx, 4).Count);
        var (packets, drops) = rx.ReadStatistics();
        Assert.True(packets >= 4, $"packets {packets}");
        Assert.Equal(0u, drops);
    }

    [Fact]
    public void SmallRingWrapsManyTimesWithoutLosingOrReorderingFrames()
    {
        using var tx = _net.Open(_net.A.Index);
        using var rx = _net.Open(_net.B.Index, new PacketSocketOptions { RxRing = new PacketRingGeometry(Environment.SystemPageSize, 4, 1) });
        using var batch = new SocketFrameBatch(16, 256);
        var tags = new List<uint>();
        for (uint round = 0; round < 50; round++)
        {
            batch.Clear();
            for (uint i = 0; i < 16; i++) batch.TryAdd(TestNet.Frame(_net.MacB, _net.MacA, 10_000 + round * 16 + i, 200));
            SendAll(tx, batch);
            tags.AddRange(ReceiveFromRing(rx, 16).Select(g => g.Tag));
        }
        Assert.Equal(Enumerable.Range(10_000, 800).Select(i => (uint)i), tags);
    }

    [Fact]
    public void BatchSendAndRingReceiveAllocateNothing()
    {
        using var tx = _net.Open(_net.A.Index);
        using var rx = _net.Open(_net.B.Index, Ring);
        using var batch = new SocketFrameBatch(32, 256);
        for (uint i = 0; i < 32; i++) batch.TryAdd(TestNet.Frame(_net.MacB, _net.MacA, 20_000 + i));

        long RoundTrip()
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            int sent = 0, received = 0;
            for (int spins = 0; spins < 500 && (sent < 32 || received < 32); spins++)
            {
                if (sent < 32) sent += tx.SendBatch(batch, sent);
                rx.WaitReadable(10);
                while (rx.Ring!.TryReceive(out var f))
                    if (TestNet.IsTestFrame(f.Data)) received++;
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(32, sent);
            Assert.Equal(32, received);
            return allocated;
        }

        RoundTrip(); // warm-up: JIT, first-call stubs
        Assert.Equal(0, RoundTrip());
    }
}
