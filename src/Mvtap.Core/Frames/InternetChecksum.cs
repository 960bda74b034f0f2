// The Internet checksum (RFC 1071) in pieces: a running one's complement sum over spans, the
// TCP/UDP pseudo-headers of IPv4 (RFC 793) and IPv6 (RFC 8200 8.1), and the fold to 16 bits.
// Used to finish partial checksums and to checksum the segments GSO cuts (kernel csum_partial,
// csum_tcpudp_magic, csum_ipv6_magic).
using System.Buffers.Binary;

namespace Mvtap.Core.Frames;

public static class InternetChecksum
{
    /// <summary>Adds <paramref name="data"/> (taken to start at an even offset of the summed
    /// region) to a running sum. Summing 32-bit words is the same modulo 0xffff as summing
    /// 16-bit ones, and a 64-bit accumulator cannot overflow for any frame.</summary>
    public static ulong Add(ulong sum, ReadOnlySpan<byte> data)
    {
        int i = 0;
        for (; i + 4 <= data.Length; i += 4) sum += BinaryPrimitives.ReadUInt32BigEndian(data[i..]);
        if (i + 2 <= data.Length) { sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]); i += 2; }
        if (i < data.Length) sum += (ulong)data[i] << 8;
        return sum;
    }

    /// <summary>The one's complement sum folded to 16 bits (not complemented).</summary>
    public static ushort Fold(ulong sum)
    {
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }

    /// <summary>Pseudo-header sum for TCP/UDP over IPv4: source, destination, protocol, length.</summary>
    public static ulong PseudoHeaderV4(ReadOnlySpan<byte> ipv4Header, byte protocol, int l4Length) =>
        Add(0, ipv4Header.Slice(12, 8)) + protocol + (ulong)l4Length;

    /// <summary>Pseudo-header sum for TCP/UDP over IPv6: source, destination, length, next header.</summary>
    public static ulong PseudoHeaderV6(ReadOnlySpan<byte> ipv6Header, byte protocol, int l4Length) =>
        Add(0, ipv6Header.Slice(8, 32)) + protocol + (ulong)l4Length;

    /// <summary>Writes the IPv4 header checksum (kernel ip_fast_csum) over the header's own bytes.</summary>
    public static void WriteIpv4HeaderChecksum(Span<byte> ipv4Header)
    {
        ipv4Header[10] = 0;
        ipv4Header[11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(ipv4Header[10..], (ushort)~Fold(Add(0, ipv4Header)));
    }

    /// <summary>True if the IPv4 header's checksum verifies.</summary>
    public static bool Ipv4HeaderVerifies(ReadOnlySpan<byte> ipv4Header) => Fold(Add(0, ipv4Header)) == 0xFFFF;
}
