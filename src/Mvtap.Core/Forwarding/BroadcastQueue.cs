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
    private Slot[] _ring = new Slot[16];
    private int _head, _count;

    public int Count { get { lock (_lock) return _count; } }

    /// <summary>Copies the frame in; false (and nothing queued) if the queue holds
    /// <paramref name="limit"/> frames already.</summary>
    public bool TryEnqueue(in Packet packet, Endpoint? source, uint limit)
    {
        lock (_lock)
        {
            if ((uint)_count >= limit) return false;
            if (_count == _ring.Length) Grow();
            ref var slot = ref _ring[(_head + _count) % _ring.Length];
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
    /// the next run.</summary>
    public int Drain<TProcessor>(ref TProcessor deliver) where TProcessor : struct, IBroadcastProcessor
    {
        int n;
        lock (_lock) n = _count;
        for (int i = 0; i < n; i++)
        {
            Slot slot;
            lock (_lock) slot = _ring[_head];
            // The buffer stays owned by its slot; a producer cannot reuse it until we advance.
            deliver.Process(new Packet(slot.Buffer.AsSpan(0, slot.Length), slot.Vnet), slot.Source);
            lock (_lock)
            {
                _ring[_head].Source = null;
                _head = (_head + 1) % _ring.Length;
                _count--;
            }
        }
        return n;
    }

    private void Grow()
    {
        var bigger = new Slot[_ring.Length * 2];
        for (int i = 0; i < _count; i++) bigger[i] = _ring[(_head + i) % _ring.Length];
        // keep the buffers of the free slots too
        for (int i = _count; i < _ring.Length; i++) bigger[i] = _ring[(_head + i) % _ring.Length];
        _ring = bigger;
        _head = 0;
    }
}

public interface IBroadcastProcessor
{
    void Process(in Packet packet, Endpoint? source);
}
