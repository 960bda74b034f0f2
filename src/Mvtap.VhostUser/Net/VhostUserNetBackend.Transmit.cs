// Guest transmit (vring 2k+1): copy each available chain out of guest memory, header first,
// into the caller's batch, and return the chains as used. Descriptors must be device-readable
// and inside guest memory (ChainSegments checks both); the header may be split anywhere (ANY_LAYOUT).
using Mvtap.VhostUser.Memory;
using Mvtap.VhostUser.Virtqueue;

namespace Mvtap.VhostUser.Net;

public sealed unsafe partial class VhostUserNetBackend
{
    private enum TxResult { Frame, TooShort, Oversize, Error }

    /// <summary>Moves up to <c>batch.Capacity</c> frames the guest sent on queue pair
    /// <paramref name="queuePair"/> into <paramref name="batch"/> (slots 0..n-1) and returns n.
    /// Handles at most one ring's worth of chains per call. When it returns less than the
    /// capacity, call <see cref="ArmKick"/> on the TX vring before sleeping on its kick.</summary>
    public int ReceiveFromGuest(int queuePair, FrameBatch batch)
    {
        var vq = _vrings[TxVring(queuePair)];
        try
        {
            using (vq.Gate.EnterScope())
            {
                if (!vq.IsReady) return 0;
                var memory = _memory!;
                ulong features = _features;
                int hdrLen = VirtioNetOffloads.WireLength(features);
                ushort usedBefore = vq.UsedIndex;
                int n = 0, budget = vq.Size;
                long bytes = 0, badHeader = 0, oversize = 0, disabled = 0;

                int avail = vq.AvailableCount();
                while (avail > 0 && n < batch.Capacity && budget-- > 0)
                {
                    int head = vq.PeekHead(0);
                    if (head < 0) break;
                    var result = ReadChain(vq, memory, head, hdrLen, batch.Header(n), batch.FrameBuffer(n), out int length);
                    if (result == TxResult.Error) break;
                    vq.Consume(1);
                    vq.AddUsed(head, 0); // the length is the bytes written; TX writes none (DPDK does the same)
                    avail--;
                    if (result == TxResult.TooShort) { badHeader++; continue; }
                    if (result == TxResult.Oversize) { oversize++; continue; }
                    // Started but disabled: consume and drop (spec 3.3, SET_VRING_ENABLE).
                    if (!vq.Enabled) { disabled++; continue; }
                    if (!VirtioNetOffloads.IsAllowedFromGuest(batch.Header(n), features)) { badHeader++; continue; }
                    batch.SetLength(n, length);
                    bytes += length;
                    n++;
                }

                vq.CompleteUsed(usedBefore);
                if (n > 0)
                {
                    Interlocked.Add(ref Counters._txFrames, n);
                    Interlocked.Add(ref Counters._txBytes, bytes);
                }
                if (badHeader > 0) Interlocked.Add(ref Counters._txDropBadHeader, badHeader);
                if (oversize > 0) Interlocked.Add(ref Counters._txDropOversize, oversize);
                if (disabled > 0) Interlocked.Add(ref Counters._txDropDisabled, disabled);
                return n;
            }
        }
        catch (AccessViolationException)
        {
            OnGuestMemoryFault(vq);
            return 0;
        }
    }

    /// <summary>Gathers one chain: the first hdrLen bytes into <paramref name="header"/> (zero
    /// padded to 12), the rest into <paramref name="frame"/>.</summary>
    private static TxResult ReadChain(SplitVirtqueue vq, GuestMemoryTable memory, int head, int hdrLen,
        Span<byte> header, Span<byte> frame, out int frameLength)
    {
        header.Clear();
        frameLength = 0;
        long total = 0;
        bool oversize = false;
        var chain = new ChainSegments(vq, memory, head, deviceWrites: false);
        while (chain.Next(int.MaxValue, out byte* p, out int take))
        {
            var src = new ReadOnlySpan<byte>(p, take);
            if (total < hdrLen)
            {
                int h = (int)Math.Min(hdrLen - total, take);
                src[..h].CopyTo(header[(int)total..]);
                src = src[h..];
            }
            if (!src.IsEmpty && !oversize)
            {
                // Past the caller's buffer: keep walking (to consume and check the chain) but stop copying.
                if (src.Length > frame.Length - frameLength) oversize = true;
                else
                {
                    src.CopyTo(frame[frameLength..]);
                    frameLength += src.Length;
                }
            }
            total += take;
        }
        if (chain.Failed) return TxResult.Error;
        if (total < hdrLen) return TxResult.TooShort;
        return oversize ? TxResult.Oversize : TxResult.Frame;
    }
}
