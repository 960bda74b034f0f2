// Software GSO: cuts a TCP (GSO_TCPV4/TCPV6) or UDP (GSO_UDP_L4, USO) super-frame into
// wire-sized frames for a receiver that cannot take GSO, the way the kernel's tap does with
// skb_gso_segment (spec 5.6: "a GSO frame whose type is not covered is segmented in software").
// Per segment, as inet_gso_segment / ipv6_gso_segment and tcp_gso_segment / __udp_gso_segment do:
// the headers repeated, IPv4 total length, ID (+1 per segment) and header checksum, IPv6 payload
// length; TCP sequence advanced by the MSS, FIN and PSH only on the last segment, CWR only on
// the first; UDP length per datagram; the TCP/UDP checksum computed in full, or left partial
// (pseudo-header sum, NEEDS_CSUM) for a receiver that accepts partial checksums. Legacy UFO
// (GSO_UDP) over IPv4 becomes IP fragments of the one datagram.
// No allocation: the segments go straight into the sink's buffers.
using System.Buffers.Binary;

namespace Mvtap.Core.Frames;

public static class GsoSegmenter
{
    /// <summary>Most segments one TCP frame (or UFO datagram) may become. A 64 KB frame at the smallest MSS Linux
    /// sends (TCP_MIN_SND_MSS 48) is 1366; more is a guest asking for amplification.</summary>
    public const int MaxSegments = 1400;
    /// <summary>UDP_MAX_SEGMENTS: the kernel's limit for one USO frame (spec 5.5 rule 4).</summary>
    public const int MaxUdpSegments = 128;

    private const byte TcpFin = 0x01, TcpPsh = 0x08, TcpCwr = 0x80;

    /// <summary>Writes the segments of <paramref name="frame"/> (a GSO frame described by
    /// <paramref name="vnet"/>) to <paramref name="sink"/>, one at a time. With
    /// <paramref name="keepPartialChecksum"/> the TCP/UDP checksum is left as the pseudo-header
    /// sum and each segment's header says NEEDS_CSUM; otherwise it is computed and the header is
    /// all zero (UFO fragments: always computed, header DATA_VALID). <paramref name="segments"/> is how many segments the frame makes (0 when
    /// refused), <paramref name="written"/> how many reached the sink.</summary>
    public static GsoVerdict Segment<TSink>(ReadOnlySpan<byte> frame, in VirtioNetHeader vnet, bool keepPartialChecksum,
        ref TSink sink, out int segments, out int written) where TSink : struct, ISegmentSink
    {
        written = 0;
        segments = 0;
        int kind = vnet.GsoType & ~VirtioNetHeader.GsoEcn;
        var verdict = GsoLayout.TryRead(frame, vnet, kind == VirtioNetHeader.GsoUdpL4 ? MaxUdpSegments : MaxSegments, out var layout);
        if (verdict != GsoVerdict.Segmented) return verdict;
        segments = layout.Segments;

        if (layout.IsIpFragmentation)
        {
            WriteFragments(frame, layout, ref sink, ref written);
            return written == layout.Segments ? GsoVerdict.Segmented : GsoVerdict.SinkFull;
        }
        var headers = frame[..layout.PayloadStart];
        var payload = frame[layout.PayloadStart..];
        ushort ipId = layout.IsIpv4 ? BinaryPrimitives.ReadUInt16BigEndian(frame[(layout.Network + 4)..]) : (ushort)0;
        uint seq = layout.IsTcp ? BinaryPrimitives.ReadUInt32BigEndian(frame[(layout.Transport + 4)..]) : 0;
        var segmentHeader = keepPartialChecksum
            ? new VirtioNetHeader
            {
                Flags = VirtioNetHeader.FlagNeedsCsum,
                CsumStart = (ushort)layout.Transport,
                CsumOffset = (ushort)(layout.IsTcp ? 16 : 6),
            }
            : default;

        for (int i = 0; i < layout.Segments; i++)
        {
            int offset = i * layout.Mss;
            int take = Math.Min(layout.Mss, payload.Length - offset);
            int length = headers.Length + take;
            var dst = sink.Reserve(length);
            if (dst.Length < length) return GsoVerdict.SinkFull;
            dst = dst[..length];
            headers.CopyTo(dst);
            payload.Slice(offset, take).CopyTo(dst[headers.Length..]);
            WriteNetworkHeader(dst, layout, (ushort)(ipId + i));
            WriteTransportHeader(dst, layout, i, seq + (uint)offset, keepPartialChecksum);
            sink.Commit(length, segmentHeader);
            written++;
        }
        return GsoVerdict.Segmented;
    }

    // Legacy UFO (udp4_ufo_fragment, then inet_gso_segment's udpfrag branch): the datagram's
    // checksum is computed in full over the whole datagram first (never left partial, whatever
    // the receiver accepts), then the IP payload is cut into gso_size pieces; every
    // fragment keeps the datagram's IPv4 ID and gets frag_off = offset / 8 with MF on all but the
    // last (DF is not kept: frag_off is rewritten whole). The header says DATA_VALID.
    private static void WriteFragments<TSink>(ReadOnlySpan<byte> frame, in GsoLayout layout, ref TSink sink, ref int written)
        where TSink : struct, ISegmentSink
    {
        var udp = frame[layout.Transport..];
        ulong sum = InternetChecksum.PseudoHeaderV4(frame[layout.Network..], GsoLayout.ProtocolUdp, udp.Length);
        sum = InternetChecksum.Add(InternetChecksum.Add(sum, udp[..6]), udp[8..]);
        ushort check = (ushort)~InternetChecksum.Fold(sum);
        if (check == 0) check = 0xFFFF; // CSUM_MANGLED_0
        var ipHeader = frame[..layout.Transport];
        for (int i = 0; i < layout.Segments; i++)
        {
            int offset = i * layout.Mss;
            int take = Math.Min(layout.Mss, udp.Length - offset);
            int length = ipHeader.Length + take;
            var dst = sink.Reserve(length);
            if (dst.Length < length) return;
            dst = dst[..length];
            ipHeader.CopyTo(dst);
            udp.Slice(offset, take).CopyTo(dst[ipHeader.Length..]);
            if (i == 0) BinaryPrimitives.WriteUInt16BigEndian(dst[(layout.Transport + 6)..], check);
            var ip = dst[layout.Network..];
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(length - layout.Network));
            ushort fragOff = (ushort)((offset >> 3) | (i < layout.Segments - 1 ? 0x2000 : 0));
            BinaryPrimitives.WriteUInt16BigEndian(ip[6..], fragOff);
            InternetChecksum.WriteIpv4HeaderChecksum(ip[..(layout.Transport - layout.Network)]);
            sink.Commit(length, FragmentHeader);
            written++;
        }
    }

    // what tap reads with each fragment: DATA_VALID, as udp4_ufo_fragment marks the datagram
    // CHECKSUM_UNNECESSARY once it has computed the checksum itself (observed, kernel 6.x)
    private static readonly VirtioNetHeader FragmentHeader = new() { Flags = VirtioNetHeader.FlagDataValid };

    private static void WriteNetworkHeader(Span<byte> segment, in GsoLayout layout, ushort ipId)
    {
        var ip = segment[layout.Network..];
        if (layout.IsIpv4)
        {
            // inet_gso_segment: tot_len, id++ (no TCP_FIXEDID from virtio), ip_fast_csum
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(segment.Length - layout.Network));
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], ipId);
            InternetChecksum.WriteIpv4HeaderChecksum(ip[..(layout.Transport - layout.Network)]);
        }
        else
        {
            // ipv6_gso_segment: payload_len
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(segment.Length - layout.Network - 40));
        }
    }

    private static void WriteTransportHeader(Span<byte> segment, in GsoLayout layout, int index, uint seq, bool partial)
    {
        var l4 = segment[layout.Transport..];
        int checkOffset;
        if (layout.IsTcp)
        {
            // tcp_gso_segment: seq += mss; fin = psh = 0 but on the last; cwr = 0 after the first
            BinaryPrimitives.WriteUInt32BigEndian(l4[4..], seq);
            if (index < layout.Segments - 1) l4[13] &= unchecked((byte)~(TcpFin | TcpPsh));
            if (index > 0) l4[13] &= unchecked((byte)~TcpCwr);
            checkOffset = 16;
        }
        else
        {
            // __udp_gso_segment: each segment its own datagram
            BinaryPrimitives.WriteUInt16BigEndian(l4[4..], (ushort)l4.Length);
            checkOffset = 6;
        }
        var ip = segment[layout.Network..];
        ulong sum = layout.IsIpv4
            ? InternetChecksum.PseudoHeaderV4(ip, layout.Protocol, l4.Length)
            : InternetChecksum.PseudoHeaderV6(ip, layout.Protocol, l4.Length);
        if (partial)
        {
            // what the receiver's stack expects under NEEDS_CSUM: the folded pseudo-header sum
            BinaryPrimitives.WriteUInt16BigEndian(l4[checkOffset..], InternetChecksum.Fold(sum));
            return;
        }
        l4[checkOffset] = 0;
        l4[checkOffset + 1] = 0;
        ushort check = (ushort)~InternetChecksum.Fold(InternetChecksum.Add(sum, l4));
        // a zero UDP checksum means "none": sent as 0xffff (CSUM_MANGLED_0)
        if (check == 0 && !layout.IsTcp) check = 0xFFFF;
        BinaryPrimitives.WriteUInt16BigEndian(l4[checkOffset..], check);
    }
}
