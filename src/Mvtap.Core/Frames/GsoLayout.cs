// Where the headers of a GSO frame are and whether its virtio-net metadata describes it: the
// checks the kernel makes before and during skb_gso_segment (virtio_net_hdr_to_skb, spec 5.5;
// inet_gso_segment / ipv6_gso_segment; tcp4_gso_segment / tcp_gso_segment; __udp_gso_segment;
// udp4_ufo_fragment).
// Everything is checked before the first segment is written, so a refusal writes nothing.
using System.Buffers.Binary;

namespace Mvtap.Core.Frames;

public readonly struct GsoLayout
{
    public const byte ProtocolTcp = 6;
    public const byte ProtocolUdp = 17;

    /// <summary>Offset of the IP header (after Ethernet and any VLAN tags).</summary>
    public int Network { get; init; }
    public bool IsIpv4 { get; init; }
    /// <summary>Offset of the TCP or UDP header.</summary>
    public int Transport { get; init; }
    /// <summary>Offset of the first payload byte: every segment repeats the bytes before it.</summary>
    public int PayloadStart { get; init; }
    public byte Protocol { get; init; }
    public int Mss { get; init; }
    public int PayloadLength { get; init; }
    public int Segments { get; init; }

    /// <summary>Legacy UFO: the segments are IPv4 fragments of one UDP datagram.</summary>
    public bool IsIpFragmentation { get; init; }

    public bool IsTcp => Protocol == ProtocolTcp;

    public static GsoVerdict TryRead(ReadOnlySpan<byte> frame, in VirtioNetHeader vnet, int maxSegments, out GsoLayout layout)
    {
        layout = default;
        // the kernel's own write-side checks first (gso type, gso_size, hdr_len, csum offsets)
        if (!vnet.IsGso || !vnet.IsValidFor(frame)) return GsoVerdict.Malformed;
        int kind = vnet.GsoType & ~VirtioNetHeader.GsoEcn;
        // legacy UFO: one UDP datagram cut into IPv4 fragments (udp4_ufo_fragment)
        bool fragments = kind == VirtioNetHeader.GsoUdp;
        byte protocol = kind is VirtioNetHeader.GsoUdpL4 or VirtioNetHeader.GsoUdp ? ProtocolUdp : ProtocolTcp;
        if (!EthernetFrame.TryFindNetworkHeader(frame, out int nh, out ushort etherType)) return GsoVerdict.Malformed;

        int l4;
        bool v4;
        if (etherType == EthernetFrame.EtherTypeIPv4)
        {
            // tcp4_gso_segment refuses a TCPV6 claim on IPv4 and vice versa (gso_type check)
            if (kind == VirtioNetHeader.GsoTcpV6) return GsoVerdict.Malformed;
            if (frame.Length < nh + 20 || frame[nh] >> 4 != 4) return GsoVerdict.Malformed;
            int ihl = (frame[nh] & 0x0F) * 4;
            if (ihl < 20 || frame.Length < nh + ihl) return GsoVerdict.Malformed;
            if (frame[nh + 9] != protocol) return GsoVerdict.Malformed;
            // a fragment cannot be segmented: MF or a fragment offset set
            if ((BinaryPrimitives.ReadUInt16BigEndian(frame[(nh + 6)..]) & 0x3FFF) != 0) return GsoVerdict.Malformed;
            l4 = nh + ihl;
            v4 = true;
        }
        else if (etherType == EthernetFrame.EtherTypeIPv6)
        {
            if (kind == VirtioNetHeader.GsoTcpV4) return GsoVerdict.Malformed;
            // udp6_ufo_fragment inserts a fragment header with a fresh identification: not done here
            if (fragments) return GsoVerdict.Unsupported;
            if (frame.Length < nh + 40 || frame[nh] >> 4 != 6) return GsoVerdict.Malformed;
            byte next = frame[nh + 6];
            // ipv6_gso_segment walks extension headers; mvtap does not (yet)
            if (next != protocol) return next is ProtocolTcp or ProtocolUdp ? GsoVerdict.Malformed : GsoVerdict.Unsupported;
            l4 = nh + 40;
            v4 = false;
        }
        else return GsoVerdict.Malformed;

        int l4Header;
        if (protocol == ProtocolTcp)
        {
            if (frame.Length < l4 + 20) return GsoVerdict.Malformed;
            l4Header = (frame[l4 + 12] >> 4) * 4;
            if (l4Header < 20) return GsoVerdict.Malformed;
        }
        else l4Header = 8;
        int payloadStart = l4 + l4Header;
        if (frame.Length < payloadStart) return GsoVerdict.Malformed;
        // a partial checksum must be the transport header's own field: virtio_net_hdr_to_skb
        // takes the transport header from csum_start
        if (vnet.NeedsCsum && vnet.CsumStart != l4) return GsoVerdict.Malformed;

        int mss = vnet.GsoSize;
        if (fragments)
        {
            // the UDP header travels in the first fragment: only the IP header is repeated; a
            // fragment offset counts 8-byte units, so every fragment but the last must be whole
            // units (the kernel does not check and would send overlapping fragments)
            if (mss % 8 != 0) return GsoVerdict.Malformed;
            payloadStart = l4;
        }
        int payload = frame.Length - payloadStart;
        int segments = payload == 0 ? 1 : (payload + mss - 1) / mss;
        if (segments > maxSegments) return GsoVerdict.TooManySegments;
        // an IP packet per segment must still fit the 16-bit length fields
        if ((v4 ? 0 : -40) + payloadStart - nh + Math.Min(mss, payload) > 65535) return GsoVerdict.Malformed;

        layout = new GsoLayout
        {
            Network = nh, IsIpv4 = v4, Transport = l4, PayloadStart = payloadStart, Protocol = protocol,
            Mss = mss, PayloadLength = payload, Segments = segments, IsIpFragmentation = fragments,
        };
        return GsoVerdict.Segmented;
    }
}
