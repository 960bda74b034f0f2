// Completes a partial checksum (virtio-net NEEDS_CSUM: csum_start/csum_offset, spec 5.5) in
// software, for a peer that did not negotiate checksum offload: the 16-bit one's complement
// sum from csum_start to the end, folded into the field at csum_start + csum_offset (which
// holds the pseudo-header sum already, as the kernel's skb_checksum_help expects).
using System.Buffers.Binary;

namespace Mvtap.Linux.Datapath;

public static class PartialChecksum
{
    /// <summary>False when the offsets do not fit the frame (the header lied).</summary>
    public static bool Complete(Span<byte> frame, int start, int offset)
    {
        if (start < 0 || start >= frame.Length || start + offset + 2 > frame.Length) return false;
        ulong sum = 0;
        var data = frame[start..];
        int i = 0;
        for (; i + 1 < data.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if (i < data.Length) sum += (ulong)data[i] << 8;
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        ushort result = (ushort)~sum;
        // UDP sends 0 as 0xffff (a zero UDP checksum means "none"); harmless for TCP/ICMP.
        if (result == 0) result = 0xFFFF;
        BinaryPrimitives.WriteUInt16BigEndian(frame[(start + offset)..], result);
        return true;
    }
}
