// Completes a partial checksum (virtio-net NEEDS_CSUM: csum_start/csum_offset, spec 5.5) in
// software, for a peer that did not negotiate checksum offload: the 16-bit one's complement
// sum from csum_start to the end, folded into the field at csum_start + csum_offset (which
// holds the pseudo-header sum already, as the kernel's skb_checksum_help expects).
using System.Buffers.Binary;

namespace Mvtap.Core.Frames;

public static class PartialChecksum
{
    /// <summary>False when the offsets do not fit the frame (the header lied).</summary>
    public static bool Complete(Span<byte> frame, int start, int offset)
    {
        if (start < 0 || start >= frame.Length || start + offset + 2 > frame.Length) return false;
        ushort result = (ushort)~InternetChecksum.Fold(InternetChecksum.Add(0, frame[start..]));
        // skb_checksum_help writes 0 as 0xffff (CSUM_MANGLED_0: a zero UDP checksum means
        // "none"); the same value in one's complement, so harmless for TCP/ICMP.
        if (result == 0) result = 0xFFFF;
        BinaryPrimitives.WriteUInt16BigEndian(frame[(start + offset)..], result);
        return true;
    }
}
