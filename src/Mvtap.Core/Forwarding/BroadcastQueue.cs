// The per-lower broadcast queue (spec 3.6): multicast and broadcast frames from the wire are
// copied here and fanned out later, off the receive fast path. Bounded by bcqueuelen (the
// port's BcQueueLenUsed); a full queue drops the new frame. Slots and their buffers are kept
// and reused, so a steady flow of broadcasts allocates nothing once the queue has warmed up.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;

namespace Mvtap.Core.Forwarding;

public sealed class BroadcastQueue
{
    private struct Slot
    {
        public byte[] Buffer;
        public int Length;
        public VirtioNetHeader Vnet;
        public Endpoint? Source;
    }

    private readonly object _lock = new();
    // Frames wait in _queued (FIFO from index 0). A work run swaps it with _draining under one
    // lock, as the kernel splices bc_queue onto a local list, and delivers without the lock;
    // both arrays keep their slots' buffers, so the swap allocates nothing.
    private Slot[] _queued = new Slot[16];
    private Slot[] _draining = new Slot[16];
    private int _count;

    public int Count { get { lock (_lock) return _count; } }

    /// <summary>Copies the frame in; false (and nothing queued) if the queue holds
    /// <paramref name="limit"/> frames already.</summary>
    public bool TryEnqueue(in VnetFrame packet, Endpoint? source, uint limit)
    {
        lock (_lock)
        {
            if ((uint)_count >= limit) return false;
            if (_count == _queued.Length) Array.Resize(ref _queued, _queued.Length * 2);
            ref var slot = ref _queued[_count];
            if (slot.Buffer is null || slot.Buffer.Length < packet.Length)
                slot.Buffer = new byte[Math.Max(packet.Length, 2048)];
            packet.Frame.CopyTo(slot.Buffer);
            slot.Length = packet.Length;
            slot.Vnet = packet.Vnet;
            slot.Source = source;
            _count++;
            return true;
        }
    }

    /// <summary>One work run (macvlan_process_broadcast): takes the frames queued so far, in
    /// order, and hands each to <paramref name="deliver"/>; frames queued meanwhile wait for
    /// the next run. One thread drains at a time (the lower's datapath thread).</summary>
    public int Drain<TProcessor>(ref TProcessor deliver) where TProcessor : struct, IBroadcastProcessor
    {
        Slot[] run;
        int n;
        lock (_lock)
        {
            n = _count;
            if (n == 0) return 0;
            run = _queued;
            _queued = _draining;
            _count = 0;
        }
        try
        {
            for (int i = 0; i < n; i++)
            {
                ref var slot = ref run[i];
                deliver.Process(new VnetFrame(slot.Buffer.AsSpan(0, slot.Length), slot.Vnet), slot.Source);
                slot.Source = null;
            }
        }
        finally
        {
            // the delivered run's slots (and buffers) serve the next swap
            lock (_lock) _draining = run;
        }
        return n;
    }
}

public interface IBroadcastProcessor
{
    void Process(in VnetFrame packet, Endpoint? source);
}
