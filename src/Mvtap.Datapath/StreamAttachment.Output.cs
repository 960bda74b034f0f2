// The guest-bound half of a macvtap's `-netdev stream` attachment: frames for the guest are
// framed (4-byte big-endian length, raw frame) into one preallocated buffer and written once per
// wake-up; a short write keeps the cut frame whole and in order for the next flush. With no vnet
// header to carry offloads, a GSO frame is cut into wire frames (GsoSegmenter) and partial
// checksums are completed, as the kernel does for a tap queue without IFF_VNET_HDR.
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Linux.Interop;

namespace Mvtap.Datapath;

public sealed unsafe partial class StreamAttachment
{
    public void Deliver(in VnetFrame packet)
    {
        if (_connection is null) { Endpoint.Counters.CountRxDrop(DropReason.NoGuest); return; }
        // No vnet header on a stream: QEMU hid the offloads from its guest, so a super-frame is
        // cut into wire-sized frames here, checksums computed, as the kernel's tap does for a
        // queue without IFF_VNET_HDR (spec 5.6).
        if (packet.Vnet.IsGso) { DeliverSegmented(packet); return; }
        if (packet.Length > MaxDeliveredFrame) { Endpoint.Counters.CountRxDrop(DropReason.AttachmentError); return; }
        var dst = ReserveFrame(packet.Length);
        if (dst.IsEmpty) { Endpoint.Counters.CountRxDrop(DropReason.QueueFull); return; }
        packet.Frame.CopyTo(dst);
        if (packet.Vnet.NeedsCsum && !PartialChecksum.Complete(dst, packet.Vnet.CsumStart, packet.Vnet.CsumOffset))
        {
            Endpoint.Counters.CountRxDrop(DropReason.BadVirtioHeader);
            return;
        }
        CommitFrame(packet.Length);
    }

    /// <summary>Segments that reached the output buffer from GSO frames.</summary>
    public long GsoSegments => Volatile.Read(ref _gsoSegments);

    private void DeliverSegmented(in VnetFrame packet)
    {
        var sink = new SegmentSink(this);
        var verdict = GsoSegmenter.Segment(packet.Frame, packet.Vnet, keepPartialChecksum: false, ref sink, out _, out int written);
        Interlocked.Add(ref _gsoSegments, written);
        if (verdict == GsoVerdict.Segmented) return;
        Endpoint.Counters.CountRxDrop(verdict switch
        {
            GsoVerdict.SinkFull => DropReason.QueueFull,
            GsoVerdict.Unsupported => DropReason.AttachmentError,
            _ => DropReason.BadVirtioHeader,
        });
    }

    /// <summary>Room for a frame of <paramref name="length"/> bytes behind its length prefix,
    /// flushing once if the buffer is full; empty when there is none.</summary>
    private Span<byte> ReserveFrame(int length)
    {
        if (length > MaxDeliveredFrame) return default;
        int need = 4 + length;
        if (BufferSize - _outEnd < need)
        {
            Flush();
            if (BufferSize - _outEnd < need) return default;
        }
        return _out.AsSpan(_outEnd + 4, length);
    }

    private void CommitFrame(int length)
    {
        BinaryPrimitives.WriteUInt32BigEndian(_out.AsSpan(_outEnd), (uint)length);
        _outEnd += 4 + length;
    }

    // GSO segments go straight into the output buffer, each behind its own length prefix.
    private readonly struct SegmentSink(StreamAttachment owner) : ISegmentSink
    {
        public Span<byte> Reserve(int length) => owner.ReserveFrame(length);
        public void Commit(int length, in VirtioNetHeader header) => owner.CommitFrame(length);
    }

    public void Flush()
    {
        var connection = _connection;
        if (connection is null || _outEnd == _outStart) return;
        nint n;
        fixed (byte* p = _out) n = FileIo.write(connection.Fd, p + _outStart, (nuint)(_outEnd - _outStart));
        if (n > 0) _outStart += (int)n;
        else if (n < 0 && Marshal.GetLastPInvokeError() is not ((int)Errno.EAGAIN or (int)Errno.EINTR))
        {
            CloseConnection();
            return;
        }
        if (_outStart == _outEnd) _outStart = _outEnd = 0;
        else if (_outStart > BufferSize / 2)
        {
            // keep a frame cut by a short write whole and in order: move the rest to the front
            _out.AsSpan(_outStart, _outEnd - _outStart).CopyTo(_out);
            _outEnd -= _outStart;
            _outStart = 0;
        }
    }
}
