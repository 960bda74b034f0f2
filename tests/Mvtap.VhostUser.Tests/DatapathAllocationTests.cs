// Design principle: a steady flow of frames allocates nothing. Measured on the calling thread
// around the backend's batch calls only (the test's own guest-side work happens outside).
using Mvtap.VhostUser.Net;
using Mvtap.VhostUser.Tests.Frontend;

namespace Mvtap.VhostUser.Tests;

public class DatapathAllocationTests
{
    [Fact]
    public void Receive_and_deliver_batches_allocate_nothing()
    {
        using var h = new BackendHarness();
        var (_, m, rings) = h.Up(Feature.Mrg | VirtioNetFeatures.EventIdx, size: 1024);
        const int Frames_ = 512;
        var bytes = Frames.Concat(Frames.Header(), Frames.Make(1500));
        ulong payload = m.Put(bytes);
        for (int i = 0; i < Frames_; i++)
        {
            rings[1].AddChain(new Seg(payload, (uint)bytes.Length));
            rings[0].AddChain(new Seg(m.Alloc(2048), 2048, true));
        }
        var batch = new FrameBatch(32, frameCapacity: 2048);
        // Warm up (JIT, first-call paths) on one batch.
        int n = h.Backend.ReceiveFromGuest(0, batch);
        h.Backend.DeliverToGuest(0, batch, n);

        long before = GC.GetAllocatedBytesForCurrentThread();
        int moved = n;
        int delivered = n;
        while ((n = h.Backend.ReceiveFromGuest(0, batch)) > 0)
        {
            delivered += h.Backend.DeliverToGuest(0, batch, n);   // (no Assert in here: xunit's allocates)
            moved += n;
        }
        h.Backend.ArmKick(VhostUserNetBackend.TxVring(0));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(Frames_, moved);
        Assert.Equal(Frames_, delivered);
        Assert.Equal(Frames_, rings[0].UsedIdx);
        Assert.Equal(0, allocated);
    }
}
