// The capture ring between a datapath thread and a capture session: records come out whole and in
// order across the buffer's wrap, a record that does not fit is refused (and nothing of it
// written) while older ones wait, snaplen cuts the copy but keeps the original length, and a
// producer and a consumer on two threads at once lose nothing the ring accepted. Also the fixed
// buckets of the frames-per-wake-up histogram.
using CsCheck;
using Mvtap.Datapath.Capture;

namespace Mvtap.Datapath.Tests;

public sealed class CaptureRingTests
{
    private static byte[] Frame(int length, int seed)
    {
        var f = new byte[length];
        for (int i = 0; i < length; i++) f[i] = (byte)(seed * 31 + i);
        return f;
    }

    [Fact]
    public void RecordsComeOutWholeAndInOrderAcrossTheWrapAndAFullRingRefuses()
    {
        // operations: a frame length to write, or -1 to read one record
        Gen.Int[-1, 3000].Array[1, 400].Sample(ops =>
        {
            var ring = new CaptureRing(16384);
            var expected = new Queue<(byte[] Bytes, int Original)>();
            int seed = 0;
            foreach (int op in ops)
            {
                if (op < 0)
                {
                    bool got = ring.TryPeek(out var f);
                    Assert.Equal(expected.Count > 0, got);
                    if (!got) continue;
                    var (bytes, original) = expected.Dequeue();
                    Assert.Equal(bytes, ring.Bytes(f).ToArray());
                    Assert.Equal(original, f.Original);
                    Assert.Equal(CaptureDirection.Outbound, f.Direction);
                    ring.Release(f);
                }
                else
                {
                    var frame = Frame(op, ++seed);
                    int snaplen = seed % 3 == 0 ? 100 : 262144;
                    if (ring.TryWrite(frame, snaplen, 7, CaptureDirection.Outbound, seed))
                        expected.Enqueue((frame[..Math.Min(op, snaplen)], op));
                }
            }
            // a full ring refused without writing: what it accepted is all still there
            while (expected.Count > 0)
            {
                Assert.True(ring.TryPeek(out var f));
                Assert.Equal(expected.Dequeue().Bytes, ring.Bytes(f).ToArray());
                ring.Release(f);
            }
            Assert.False(ring.TryPeek(out _));
        }, iter: 300);
    }

    [Fact]
    public void AFullRingRefusesUntilTheReaderMakesRoom()
    {
        var ring = new CaptureRing(4096);
        int accepted = 0;
        while (ring.TryWrite(Frame(1000, accepted), 262144, 0, CaptureDirection.Inbound, 1)) accepted++;
        Assert.Equal(4, accepted); // 1024-byte records fill it exactly
        Assert.True(ring.TryPeek(out var first));
        ring.Release(first);
        Assert.True(ring.TryWrite(Frame(1000, 99), 262144, 0, CaptureDirection.Inbound, 1));
    }

    [Fact]
    public void AProducerAndAConsumerOnTwoThreadsLoseNothingTheRingAccepted()
    {
        var ring = new CaptureRing(8192);
        const int Frames = 50_000;
        var accepted = new List<int>();
        var producer = new Thread(() =>
        {
            for (int i = 0; i < Frames; i++)
                if (ring.TryWrite(Frame(60 + i % 1400, i), 262144, 0, CaptureDirection.Inbound, i)) accepted.Add(i);
        });
        var read = new List<int>();
        producer.Start();
        while (producer.IsAlive || ring.TryPeek(out _))
        {
            if (!ring.TryPeek(out var f)) { Thread.Yield(); continue; }
            int i = (int)f.Ticks;
            Assert.Equal(Frame(60 + i % 1400, i), ring.Bytes(f).ToArray());
            read.Add(i);
            ring.Release(f);
        }
        producer.Join();
        Assert.Equal(accepted, read);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 3)]
    [InlineData(4, 3)]
    [InlineData(5, 4)]
    [InlineData(64, 7)]
    [InlineData(65, 8)]
    [InlineData(512, 11 - 1)]
    [InlineData(513, 11)]
    [InlineData(100_000, 11)]
    public void FramesPerWakeupFallInTheBucketOfTheirUpperBound(long frames, int bucket)
    {
        Assert.Equal(bucket, FramesPerWakeupHistogram.Bucket(frames));
        Assert.True(bucket == FramesPerWakeupHistogram.UpperBounds.Length || frames <= FramesPerWakeupHistogram.UpperBounds[bucket]);
    }
}
