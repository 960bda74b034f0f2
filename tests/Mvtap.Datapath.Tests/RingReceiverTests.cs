// RingReceiver on a real veth pair: how the datapath reads a frame ring. Frames larger than a
// ring slot are taken whole from the socket's queue in their place; when that queue is full the
// kernel keeps only their head, and the receiver reports them lost (Overflow, a QueueFull drop),
// never forwards a cut frame and never confuses the loss with a malformed frame.
using Mvtap.Datapath;
using Mvtap.Linux;
using Mvtap.Linux.Netlink;

namespace Mvtap.Datapath.Tests;

public sealed class RingReceiverTests : IDisposable
{
    private readonly VethPair _net = new();

    public void Dispose() => _net.Dispose();

    private (PacketSocket Tx, PacketSocket Rx) Open(int? receiveBuffer)
    {
        _net.Rtnl.SetLink(new LinkRequest { Name = "pa0", Mtu = 9000 });
        _net.Rtnl.SetLink(new LinkRequest { Name = "pb0", Mtu = 9000 });
        var opts = new PacketSocketOptions { VnetHeader = true };
        var tx = _net.Open(_net.A.Index, opts);
        var rx = _net.Open(_net.B.Index, opts with { FrameRing = PacketFrameRingGeometry.Default, ReceiveBuffer = receiveBuffer });
        return (tx, rx);
    }

    private void Send(PacketSocket tx, int[] lengths, uint firstTag)
    {
        using var batch = new SocketFrameBatch(lengths.Length, 10 + 9014);
        for (int i = 0; i < lengths.Length; i++)
        {
            var slot = batch.Reserve();
            slot[..10].Clear();
            var frame = TestNet.Frame(_net.MacB, _net.MacA, firstTag + (uint)i, lengths[i]);
            frame.CopyTo(slot[10..]);
            batch.Commit(10 + frame.Length);
        }
        Assert.Equal(lengths.Length, tx.SendBatch(batch));
    }

    // Reads until `want` test frames were classified; returns (tag or 0, what) in arrival order.
    private static List<(uint Tag, int Length, ReceivedFrame What)> Drain(PacketSocket rx, RingReceiver receiver, int want)
    {
        using var scratch = new SocketFrameBatch(LowerDatapath.BatchSize, PacketLower.SlotSize);
        var stats = new DatapathStats();
        var got = new List<(uint, int, ReceivedFrame)>();
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (got.Count < want && DateTime.UtcNow < deadline)
        {
            rx.WaitReadable(100);
            int n = receiver.Receive(scratch);
            for (int i = 0; i < n; i++)
            {
                var what = receiver.GetFrame(i, stats, out var frame, out _);
                // the interface's own chatter (IPv6 solicitations out of pb0, seen as outgoing)
                if (what == ReceivedFrame.Ignore || (what == ReceivedFrame.Frame && !TestNet.IsTestFrame(frame))) continue;
                got.Add((what == ReceivedFrame.Frame ? TestNet.Tag(frame) : 0, frame.Length, what));
            }
            receiver.Release();
        }
        return got;
    }

    [Fact]
    public void SmallAndOversizedFramesAreForwardedWholeInTheOrderTheyArrived()
    {
        var (tx, rx) = Open(receiveBuffer: null);
        using (tx)
        using (rx)
        {
            int[] lengths = [60, 9014, 1514, 3000, 2100, 64];
            Send(tx, lengths, 100);
            var got = Drain(rx, new RingReceiver(rx), lengths.Length);
            Assert.Equal(lengths.Select((l, i) => (100u + (uint)i, l, ReceivedFrame.Frame)), got);
        }
    }

    [Fact]
    public void OversizedFramesTheFullReceiveQueueCannotHoldAreReportedLostNotForwardedCut()
    {
        // the smallest receive buffer: after the first queued 5000-byte frame the queue is full
        var (tx, rx) = Open(receiveBuffer: 1);
        using (tx)
        using (rx)
        {
            int[] lengths = [5000, 5000, 5000, 5000, 100];
            Send(tx, lengths, 200);
            var got = Drain(rx, new RingReceiver(rx), lengths.Length);
            Assert.Equal(lengths.Length, got.Count);
            Assert.Contains(got, g => g.What == ReceivedFrame.Overflow);
            // whatever was forwarded is whole; the small frame always fits its slot
            Assert.All(got.Where(g => g.What == ReceivedFrame.Frame), g => Assert.Equal(lengths[(int)(g.Tag - 200)], g.Length));
            Assert.Equal((204u, 100, ReceivedFrame.Frame), got[^1]);
            Assert.DoesNotContain(got, g => g.What == ReceivedFrame.Malformed);
        }
    }
}
