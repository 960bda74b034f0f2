// Guest receive (vring 2k): write header + frame into the buffers the guest posted. Without
// MRG_RXBUF a frame must fit in one chain; with it, a frame spans as many chains as it needs
// and num_buffers says how many. Used elements become visible only once a frame is complete.
using Mvtap.Core.Frames;
using Mvtap.VhostUser.Memory;
using Mvtap.VhostUser.Virtqueue;

namespace Mvtap.VhostUser.Net;

public sealed unsafe partial class VhostUserNetBackend
{
    private enum RxResult { Delivered, NoBuffers, TooBig, Error }

    /// <summary>Writes frames 0..<paramref name="count"/>-1 of <paramref name="batch"/> into the
    /// guest's receive queue of <paramref name="queuePair"/> and returns how many were delivered.
    /// Every frame not delivered is counted as dropped, by reason.</summary>
    public int DeliverToGuest(int queuePair, FrameBatch batch, int count) =>
        DeliverToGuest(queuePair, batch, 0, count, dropWhenNoBuffers: true, out _);

    /// <summary>Like <see cref="DeliverToGuest(int, FrameBatch, int)"/> from slot
    /// <paramref name="start"/>, but stops without dropping when the guest runs out of buffers:
    /// <paramref name="taken"/> says how many frames were delivered or dropped for good, so the
    /// caller can keep the rest until the guest kicks the RX vring.</summary>
    public int DeliverToGuest(int queuePair, FrameBatch batch, int start, int count, bool dropWhenNoBuffers, out int taken)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)(start + count), (uint)batch.Capacity, nameof(count));
        var vq = _vrings[RxVring(queuePair)];
        try
        {
            using (vq.Gate.EnterScope())
            {
                if (!vq.IsReady || !vq.Enabled)
                {
                    Interlocked.Add(ref Counters._rxDropNotReady, count);
                    taken = count;
                    return 0;
                }
                var memory = _memory!;
                ulong features = _features;
                int hdrLen = VirtioNetOffloads.WireLength(features);
                bool mergeable = (features & VirtioNetFeatures.MrgRxbuf) != 0;
                Span<byte> header = stackalloc byte[VirtioNetHeader.SizeWithBuffers];
                ushort usedBefore = vq.UsedIndex;
                int delivered = 0, i = 0;
                long bytes = 0, tooBig = 0, offload = 0, noBuffers = 0, notReady = 0;
                bool rearmed = false;

                int avail = vq.AvailableCount();
                while (i < count && avail >= 0)
                {
                    int slot = start + i;
                    batch.Header(slot).CopyTo(header);
                    if (!VirtioNetOffloads.PrepareForGuest(header, features)) { offload++; i++; continue; }
                    var result = WriteFrame(vq, memory, header, hdrLen, batch.Frame(slot), mergeable, ref avail);
                    if (result == RxResult.Delivered) { delivered++; bytes += batch.Length(slot); i++; continue; }
                    if (result == RxResult.TooBig) { tooBig++; i++; continue; }
                    if (result == RxResult.Error) break;
                    // No buffers: ask for a kick; if buffers arrived meanwhile, try once more.
                    if (!rearmed && vq.RequestKick())
                    {
                        rearmed = true;
                        avail = vq.AvailableCount();
                        continue;
                    }
                    break;
                }
                if (i < count)
                {
                    // The rest could not be attempted: no buffers, or the ring broke.
                    if (!vq.IsReady) { notReady += count - i; i = count; }
                    else if (dropWhenNoBuffers) { noBuffers += count - i; i = count; }
                }
                taken = i;

                vq.CompleteUsed(usedBefore);
                if (delivered > 0)
                {
                    Interlocked.Add(ref Counters._rxFrames, delivered);
                    Interlocked.Add(ref Counters._rxBytes, bytes);
                }
                if (tooBig > 0) Interlocked.Add(ref Counters._rxDropTooBig, tooBig);
                if (offload > 0) Interlocked.Add(ref Counters._rxDropOffload, offload);
                if (noBuffers > 0) Interlocked.Add(ref Counters._rxDropNoBuffer, noBuffers);
                if (notReady > 0) Interlocked.Add(ref Counters._rxDropNotReady, notReady);
                return delivered;
            }
        }
        catch (AccessViolationException)
        {
            OnGuestMemoryFault(vq);
            Interlocked.Add(ref Counters._rxDropNotReady, count);
            taken = count;
            return 0;
        }
    }

    /// <summary>A frame for the guest that carried offloads it did not negotiate and that could
    /// not be segmented or checksummed for it in software (VhostUserAttachment): counted with the
    /// frames this method refuses for the same reason.</summary>
    public void CountOffloadDrop() => Interlocked.Increment(ref Counters._rxDropOffload);

    /// <summary>Writes one frame into as many available chains as it needs (one without
    /// MRG_RXBUF). On failure nothing is consumed: used elements written so far are retracted.</summary>
    private static RxResult WriteFrame(SplitVirtqueue vq, GuestMemoryTable memory, ReadOnlySpan<byte> header, int hdrLen,
        ReadOnlySpan<byte> frame, bool mergeable, ref int avail)
    {
        long need = hdrLen + frame.Length;
        long written = 0;
        int buffers = 0;
        byte* numBuffersLo = null, numBuffersHi = null;
        while (written < need)
        {
            if (buffers > 0 && !mergeable) { vq.RetractUsed(buffers); return RxResult.TooBig; }
            if (buffers >= avail) { vq.RetractUsed(buffers); return RxResult.NoBuffers; }
            int head = vq.PeekHead(buffers);
            if (head < 0) { vq.RetractUsed(buffers); return RxResult.Error; }
            long inChain = WriteChain(vq, memory, head, header, hdrLen, frame, ref written, ref numBuffersLo, ref numBuffersHi);
            if (inChain < 0) { vq.RetractUsed(buffers); return RxResult.Error; }
            vq.AddUsed(head, (uint)inChain);
            buffers++;
        }
        if (hdrLen == VirtioNetHeader.SizeWithBuffers)
        {
            // num_buffers is 1 without MRG_RXBUF (VERSION_1 requires it, spec 3.6).
            *numBuffersLo = (byte)buffers;
            *numBuffersHi = (byte)(buffers >> 8);
        }
        vq.Consume(buffers);
        avail -= buffers;
        return RxResult.Delivered;
    }

    /// <summary>Streams bytes [written, need) of header+frame into one chain; returns how many it
    /// took, or -1 (ring broken). Remembers where num_buffers landed, which may be any descriptor.</summary>
    private static long WriteChain(SplitVirtqueue vq, GuestMemoryTable memory, int head, ReadOnlySpan<byte> header, int hdrLen,
        ReadOnlySpan<byte> frame, ref long written, ref byte* numBuffersLo, ref byte* numBuffersHi)
    {
        long need = hdrLen + frame.Length;
        long inChain = 0;
        var chain = new ChainSegments(vq, memory, head, deviceWrites: true);
        while (written < need && chain.Next(need - written, out byte* p, out int take))
        {
            var dst = new Span<byte>(p, take);
            int from = 0;
            if (written < hdrLen)
            {
                int h = (int)Math.Min(hdrLen - written, take);
                header.Slice((int)written, h).CopyTo(dst);
                if (written <= VirtioNetHeader.NumBuffersOffset && VirtioNetHeader.NumBuffersOffset < written + h)
                    numBuffersLo = p + (VirtioNetHeader.NumBuffersOffset - written);
                if (written <= VirtioNetHeader.NumBuffersOffset + 1 && VirtioNetHeader.NumBuffersOffset + 1 < written + h)
                    numBuffersHi = p + (VirtioNetHeader.NumBuffersOffset + 1 - written);
                from = h;
            }
            if (from < take)
                frame.Slice((int)(written + from - hdrLen), take - from).CopyTo(dst[from..]);
            written += take;
            inChain += take;
        }
        if (chain.Failed) return -1;
        return inChain;
    }
}
