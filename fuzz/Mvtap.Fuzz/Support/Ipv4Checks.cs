// What a reassembled IPv4 datagram must look like whoever made it: one Ethernet header, a
// version-4 header whose length fields describe exactly this frame, no fragment bits left and
// a correct header checksum.
using System.Buffers.Binary;
using Mvtap.Core.Frames;

namespace Mvtap.Fuzz.Support;

public static class Ipv4Checks
{
    public static void RequireWholeDatagram(ReadOnlySpan<byte> frame)
    {
        const int eth = EthernetFrame.HeaderLength;
        if (frame.Length < eth + 20) throw new InvalidOperationException($"reassembled frame of {frame.Length} bytes");
        var ip = frame[eth..];
        int ihl = (ip[0] & 0x0F) * 4;
        if (ip[0] >> 4 != 4 || ihl < 20 || ihl > ip.Length) throw new InvalidOperationException($"reassembled header 0x{ip[0]:x2}");
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (total != ip.Length) throw new InvalidOperationException($"reassembled total length {total}, datagram {ip.Length}");
        if ((BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x3FFF) != 0) throw new InvalidOperationException("reassembled datagram still a fragment");
        if (!InternetChecksum.Ipv4HeaderVerifies(ip[..ihl]))
            throw new InvalidOperationException("reassembled header checksum wrong");
    }
}
