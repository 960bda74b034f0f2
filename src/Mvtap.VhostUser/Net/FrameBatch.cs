// Caller-preallocated frames for one batch in either direction: per slot a 12-byte virtio-net
// header and a frame buffer. Allocated once; the datapath reuses it for every batch.
using Mvtap.Core.Frames;

namespace Mvtap.VhostUser.Net;

public sealed class FrameBatch
{
    /// <summary>Room for a 64 KB GSO frame: 65535 bytes of IP packet plus Ethernet and a VLAN tag.</summary>
    public const int DefaultFrameCapacity = 65535 + 18;

    private readonly byte[] _headers;
    private readonly byte[][] _frames;
    private readonly int[] _lengths;

    public FrameBatch(int capacity, int frameCapacity = DefaultFrameCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(frameCapacity, 14);
        Capacity = capacity;
        FrameCapacity = frameCapacity;
        _headers = new byte[capacity * VirtioNetHeader.SizeWithBuffers];
        _frames = new byte[capacity][];
        for (int i = 0; i < capacity; i++) _frames[i] = new byte[frameCapacity];
        _lengths = new int[capacity];
    }

    public int Capacity { get; }
    public int FrameCapacity { get; }

    /// <summary>The virtio-net header of slot <paramref name="i"/> (12 bytes; num_buffers is
    /// ignored on delivery and zero on receive).</summary>
    public Span<byte> Header(int i) => _headers.AsSpan(i * VirtioNetHeader.SizeWithBuffers, VirtioNetHeader.SizeWithBuffers);

    /// <summary>The frame in slot <paramref name="i"/>, Ethernet header first.</summary>
    public Span<byte> Frame(int i) => _frames[i].AsSpan(0, _lengths[i]);

    /// <summary>The whole buffer of slot <paramref name="i"/>, for a producer to fill.</summary>
    public Span<byte> FrameBuffer(int i) => _frames[i];

    public int Length(int i) => _lengths[i];

    public void SetLength(int i, int length)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)length, (uint)FrameCapacity, nameof(length));
        _lengths[i] = length;
    }

    /// <summary>Fills slot <paramref name="i"/> with a copy of <paramref name="header"/> and
    /// <paramref name="frame"/>.</summary>
    public void Set(int i, ReadOnlySpan<byte> header, ReadOnlySpan<byte> frame)
    {
        var h = Header(i);
        h.Clear();
        header[..Math.Min(header.Length, VirtioNetHeader.SizeWithBuffers)].CopyTo(h);
        frame.CopyTo(_frames[i]);
        SetLength(i, frame.Length);
    }
}
