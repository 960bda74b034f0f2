// The guest memory of one descriptor chain, piece by piece, as host pointers: each descriptor is
// checked for the direction the device uses it in and translated through the guest memory table
// (one descriptor may cross regions, so it can come in several pieces). The one walk behind both
// directions of the net device: VhostUserNetBackend.Receive.cs copies into chains and
// .Transmit.cs out of them. A descriptor of the wrong direction or outside guest memory breaks
// the ring (SplitVirtqueue.Fail) and ends the walk with Failed set.
using Mvtap.VhostUser.Memory;

namespace Mvtap.VhostUser.Virtqueue;

internal unsafe ref struct ChainSegments
{
    private readonly SplitVirtqueue _vq;
    private readonly GuestMemoryTable _memory;
    private readonly bool _deviceWrites;
    private ChainCursor _cursor;
    private VirtqDescriptor _descriptor;
    private ulong _address;
    private ulong _remaining;

    /// <param name="deviceWrites">True for a receive chain (every descriptor device-writable),
    /// false for a transmit chain (every descriptor device-readable).</param>
    public ChainSegments(SplitVirtqueue vq, GuestMemoryTable memory, int head, bool deviceWrites)
    {
        _vq = vq;
        _memory = memory;
        _deviceWrites = deviceWrites;
        _cursor = vq.BeginChain(head);
    }

    /// <summary>The ring broke during the walk (a bad chain, direction or address).</summary>
    public bool Failed { get; private set; }

    /// <summary>The next piece of at most <paramref name="max"/> bytes (max &gt; 0), continuing
    /// where the last one ended. False at the chain's end or when the walk failed.</summary>
    public bool Next(long max, out byte* piece, out int length)
    {
        piece = null;
        length = 0;
        while (_remaining == 0)
        {
            int r = _vq.NextDescriptor(ref _cursor, _memory, out _descriptor);
            if (r < 0) { Failed = true; return false; }
            if (r == 0) return false;
            if (_descriptor.IsWrite != _deviceWrites)
            {
                _vq.Fail(_deviceWrites
                    ? $"vring {_vq.Index}: receive descriptor is device-readable"
                    : $"vring {_vq.Index}: transmit descriptor is device-writable");
                Failed = true;
                return false;
            }
            _address = _descriptor.Address;
            _remaining = _descriptor.Length;
        }
        if (!_memory.TryTranslateGuest(_address, _remaining, out piece, out ulong contiguous))
        {
            _vq.Fail($"vring {_vq.Index}: descriptor 0x{_descriptor.Address:x}+{_descriptor.Length} outside guest memory at 0x{_address:x}");
            Failed = true;
            return false;
        }
        length = (int)Math.Min((long)Math.Min(contiguous, int.MaxValue), max);
        _address += (ulong)length;
        _remaining -= (ulong)length;
        return true;
    }
}
