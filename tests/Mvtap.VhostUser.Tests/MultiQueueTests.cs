// Multiqueue: two queue pairs on one connection, each with its own rings, served by one
// thread or by two at once.
using Mvtap.VhostUser.Net;
using Mvtap.VhostUser.Tests.Frontend;

namespace Mvtap.VhostUser.Tests;

public class MultiQueueTests
{
    [Fact]
    public void Two_queue_pairs_carry_their_own_traffic()
    {
        using var h = new BackendHarness(maxQueuePairs: 2);
        var (f, m, rings) = h.Up(Feature.Mrg | VirtioNetFeatures.Mq, pairs: 2);
        Assert.Equal(2UL, f.GetU64(Protocol.VhostUserRequest.GetQueueNum));
        Assert.True(h.Backend.IsQueuePairReady(0));
        Assert.True(h.Backend.IsQueuePairReady(1));

        var a = Frames.Concat(Frames.Header(), Frames.Make(100, seed: 1));
        var b = Frames.Concat(Frames.Header(), Frames.Make(200, seed: 2));
        rings[1].AddChain(new Seg(m.Put(a), (uint)a.Length));
        rings[3].AddChain(new Seg(m.Put(b), (uint)b.Length));

        var batch = new FrameBatch(4);
        Assert.Equal(1, h.Backend.ReceiveFromGuest(1, batch));
        Assert.Equal(Frames.Make(200, seed: 2), batch.Frame(0).ToArray());
        Assert.Equal(1, h.Backend.ReceiveFromGuest(0, batch));
        Assert.Equal(Frames.Make(100, seed: 1), batch.Frame(0).ToArray());

        ulong buf0 = m.Alloc(2048), buf1 = m.Alloc(2048);
        rings[0].AddChain(new Seg(buf0, 2048, true));
        rings[2].AddChain(new Seg(buf1, 2048, true));
        var rx = new FrameBatch(1);
        rx.Set(0, Frames.Header(), Frames.Make(80, seed: 4));
        Assert.Equal(1, h.Backend.DeliverToGuest(1, rx, 1));
        Assert.Equal(0, rings[0].UsedIdx);
        Assert.Equal(1, rings[2].UsedIdx);
        Assert.Equal(Frames.Make(80, seed: 4), m.Span(buf1 + 12, 80).ToArray());
    }

    [Fact]
    public void Two_threads_serve_two_pairs_concurrently()
    {
        using var h = new BackendHarness(maxQueuePairs: 2);
        var (_, m, rings) = h.Up(Feature.Mrg | VirtioNetFeatures.Mq, pairs: 2, size: 1024);
        const int PerPair = 500;
        var payloads = new ulong[2][];
        for (int p = 0; p < 2; p++)
        {
            payloads[p] = new ulong[PerPair];
            for (int i = 0; i < PerPair; i++)
                payloads[p][i] = m.Put(Frames.Concat(Frames.Header(), Frames.Make(60, seed: p)));
        }
        var counts = new int[2];
        Parallel.For(0, 2, p =>
        {
            var batch = new FrameBatch(32, frameCapacity: 2048);
            for (int i = 0; i < PerPair; i++)
            {
                rings[2 * p + 1].AddChain(new Seg(payloads[p][i], 72));
                if (i % 50 == 49)
                    while (counts[p] < i + 1) counts[p] += Check(h.Backend.ReceiveFromGuest(p, batch), batch, p);
            }
        });
        Assert.Equal(PerPair, counts[0]);
        Assert.Equal(PerPair, counts[1]);
        Assert.Equal(2 * PerPair, h.Backend.Counters.TxFrames);
        Assert.False(h.Backend.IsBroken);
    }

    private static int Check(int n, FrameBatch batch, int pair)
    {
        for (int i = 0; i < n; i++) Assert.Equal((byte)pair, batch.Frame(i)[11]);
        return n;
    }

    [Fact]
    public void Vring_index_beyond_the_queue_pairs_is_refused()
    {
        using var h = new BackendHarness(maxQueuePairs: 1);
        var f = h.Connect();
        f.Negotiate(Feature.Basic);
        f.Send(Protocol.VhostUserRequest.SetVringNum, StateBytes(2, 256), needReply: true);
        Assert.Equal(1UL, ReadAck(f));
        Assert.True(f.WaitForClose());
        BackendHarness.WaitUntil(() => h.Backend.Counters.ProtocolErrors == 1, "protocol error counted");
    }

    internal static byte[] StateBytes(uint index, uint num)
    {
        var p = new byte[8];
        new Protocol.VringState(index, num).Write(p);
        return p;
    }

    internal static ulong ReadAck(TestFrontend f)
    {
        var (_, payload) = f.ReadReply();
        return BitConverter.ToUInt64(payload);
    }
}
