// GsoSegmenter by table: what each segment of a TCP/UDP super-frame must look like (kernel
// inet_gso_segment / tcp_gso_segment / __udp_gso_segment), and the metadata it refuses.
using System.Buffers.Binary;
using Mvtap.Core.Frames;
using Mvtap.Tests.Gso;

namespace Mvtap.Core.Tests;

public sealed class GsoSegmenterTests
{
    private static (GsoVerdict Verdict, List<(byte[] Frame, VirtioNetHeader Vnet)> Segments) Run(
        byte[] frame, VirtioNetHeader vnet, bool partial = false, int limit = int.MaxValue)
    {
        var sink = new CollectingSink { Limit = limit };
        var verdict = GsoSegmenter.Segment(frame, vnet, partial, ref sink, out int total, out int written);
        Assert.Equal(sink.Segments.Count, written);
        if (verdict == GsoVerdict.Segmented) Assert.Equal(total, written);
        return (verdict, sink.Segments);
    }

    private static ushort U16(byte[] f, int at) => BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(at));
    private static uint U32(byte[] f, int at) => BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(at));

    [Fact]
    public void Tcpv4_ThreeSegments_LengthsIdsSequenceChecksums()
    {
        var (frame, vnet) = GsoFrames.Build(new GsoFrameSpec(Payload: 3000, Mss: 1000));
        var (verdict, segs) = Run(frame, vnet);
        Assert.Equal(GsoVerdict.Segmented, verdict);
        Assert.Equal(3, segs.Count);
        for (int i = 0; i < 3; i++)
        {
            var (f, h) = segs[i];
            Assert.Equal(1054, f.Length);
            Assert.Equal(default, h);                          // no offloads left: all zero
            Assert.Equal(1040, U16(f, 16));                    // IPv4 total length
            Assert.Equal(0x1234 + i, U16(f, 18));              // IPv4 ID + 1 per segment
            Assert.True(InternetChecksum.Ipv4HeaderVerifies(f.AsSpan(14, 20)));
            Assert.Equal(1000u + (uint)(1000 * i), U32(f, 38)); // sequence
            Assert.True(GsoFrames.TransportChecksumVerifies(f));
            Assert.Equal(frame.AsSpan(54 + 1000 * i, 1000).ToArray(), f[54..]);
            Assert.Equal(frame[..14], f[..14]);
        }
        Assert.Equal(0x10, segs[0].Frame[47]);                 // ACK, no PSH
        Assert.Equal(0x10, segs[1].Frame[47]);
        Assert.Equal(0x18, segs[2].Frame[47]);                 // PSH on the last
    }

    [Fact]
    public void Tcpv6_PayloadLengthAndChecksums()
    {
        var (frame, vnet) = GsoFrames.Build(new GsoFrameSpec(Ipv6: true, Payload: 4000, Mss: 1440));
        var (verdict, segs) = Run(frame, vnet);
        Assert.Equal(GsoVerdict.Segmented, verdict);
        Assert.Equal([1440, 1440, 1120], segs.Select(s => s.Frame.Length - 74));
        foreach (var (f, _) in segs)
        {
            Assert.Equal(f.Length - 54, U16(f, 18));           // IPv6 payload length
            Assert.True(GsoFrames.TransportChecksumVerifies(f));
        }
        Assert.Equal(1000u + 2880u, U32(segs[2].Frame, 58));
    }

    [Fact]
    public void VlanTagged_HeadersFoundBehindTheTag()
    {
        var (frame, vnet) = GsoFrames.Build(new GsoFrameSpec(Vlan: true, Payload: 2000, Mss: 1000));
        var (verdict, segs) = Run(frame, vnet);
        Assert.Equal(GsoVerdict.Segmented, verdict);
        Assert.Equal(2, segs.Count);
        foreach (var (f, _) in segs)
        {
            Assert.Equal(frame[..18], f[..18]);                // tag kept
            Assert.Equal(1040, U16(f, 20));
            Assert.True(InternetChecksum.Ipv4HeaderVerifies(f.AsSpan(18, 20)));
            Assert.True(GsoFrames.TransportChecksumVerifies(f));
        }
    }

    [Fact]
    public void FinPshOnlyOnTheLast_CwrOnlyOnTheFirst()
    {
        // CWR|ACK|PSH|FIN, with the virtio ECN bit as a sender that negotiated ECN sets it
        var (frame, vnet) = GsoFrames.Build(new GsoFrameSpec(Payload: 3000, Mss: 1000, TcpFlags: 0x99, Ecn: true));
        var (verdict, segs) = Run(frame, vnet);
        Assert.Equal(GsoVerdict.Segmented, verdict);
        Assert.Equal([0x90, 0x10, 0x19], segs.Select(s => (int)s.Frame[47]));
    }

    [Fact]
    public void LastSegmentShorter()
    {
        var (frame, vnet) = GsoFrames.Build(new GsoFrameSpec(Payload: 2500, Mss: 1000, TcpOptions: 12));
        var (_, segs) = Run(frame, vnet);
        Assert.Equal([1000, 1000, 500], segs.Select(s => s.Frame.Length - 66));
        Assert.All(segs, s => Assert.True(GsoFrames.TransportChecksumVerifies(s.Frame)));
        Assert.All(segs, s => Assert.Equal(frame.AsSpan(54, 12).ToArray(), s.Frame[54..66])); // options repeated
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(10)]
    [InlineData(0)]
    public void PayloadUpToMss_IsExactlyOneSegment_FlagsKept(int payload)
    {
        var (frame, vnet) = GsoFrames.Build(new GsoFrameSpec(Payload: payload, Mss: 1000, TcpFlags: 0x99));
        var (verdict, segs) = Run(frame, vnet);
        Assert.Equal(GsoVerdict.Segmented, verdict);
        var f = Assert.Single(segs).Frame;
        Assert.Equal(frame.Length, f.Length);
        Assert.Equal(0x99, f[47]);
        Assert.Equal(0x1234, U16(f, 18));
        Assert.True(GsoFrames.TransportChecksumVerifies(f));
    }

    [Fact]
    public void PartialChecksumKept_WhenTheReceiverAcceptsIt()
    {
        var (frame, vnet) = GsoFrames.Build(new GsoFrameSpec(Payload: 3000, Mss: 1000));
        var (_, segs) = Run(frame, vnet, partial: true);
        Assert.Equal(3, segs.Count);
        foreach (var (f, h) in segs)
        {
            Assert.Equal(VirtioNetHeader.FlagNeedsCsum, h.Flags);
            Assert.Equal(VirtioNetHeader.GsoNone, h.GsoType);
            Assert.Equal(34, h.CsumStart);
            Assert.Equal(16, h.CsumOffset);
            Assert.False(GsoFrames.TransportChecksumVerifies(f));
            Assert.True(PartialChecksum.Complete(f, h.CsumStart, h.CsumOffset));
            Assert.True(GsoFrames.TransportChecksumVerifies(f));
        }
    }

    [Fact]
    public void GsoWithoutNeedsCsum_IsSegmentedWithFullChecksums()
    {
        var (frame, vnet) = GsoFrames.Build(new GsoFrameSpec(Payload: 3000, Mss: 1000, NeedsCsum: false));
        var (verdict, segs) = Run(frame, vnet);
        Assert.Equal(GsoVerdict.Segmented, verdict);
        Assert.All(segs, s => Assert.True(GsoFrames.TransportChecksumVerifies(s.Frame)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void UdpL4_EachSegmentItsOwnDatagram(bool ipv6)
    {
        var (frame, vnet) = GsoFrames.Build(new GsoFrameSpec(Ipv6: ipv6, Udp: true, Payload: 3500, Mss: 1200));
        var (verdict, segs) = Run(frame, vnet);
        Assert.Equal(GsoVerdict.Segmented, verdict);
        Assert.Equal([1200, 1200, 1100], segs.Select(s => s.Frame.Length - (ipv6 ? 62 : 42)));
        for (int i = 0; i < segs.Count; i++)
        {
            var f = segs[i].Frame;
            int l4 = ipv6 ? 54 : 34;
            Assert.Equal(f.Length - l4, U16(f, l4 + 4));       // UDP length
            Assert.True(GsoFrames.TransportChecksumVerifies(f));
            if (!ipv6) Assert.Equal(0x1234 + i, U16(f, 18));
        }
    }

    public static TheoryData<string> MalformedCases =>
        ["gso_size 0", "hdr_len beyond frame", "TCPV4 claims a UDP packet", "TCPV4 on IPv6", "TCPV6 on IPv4",
         "TCP header cut", "fragment", "csum_start not the TCP header", "ARP", "TCP data offset 4"];

    [Theory]
    [MemberData(nameof(MalformedCases))]
    public void MalformedMetadata_IsRefusedAndWritesNothing(string what)
    {
        var (frame, vnet) = GsoFrames.Build(new GsoFrameSpec(Payload: 3000, Mss: 1000));
        switch (what)
        {
            case "gso_size 0": vnet.GsoSize = 0; break;
            case "hdr_len beyond frame": vnet.HdrLen = (ushort)(frame.Length + 1); break;
            case "TCPV4 claims a UDP packet":
                (frame, _) = GsoFrames.Build(new GsoFrameSpec(Udp: true, Payload: 3000));
                vnet.CsumOffset = 16;
                break;
            case "TCPV4 on IPv6": (frame, _) = GsoFrames.Build(new GsoFrameSpec(Ipv6: true)); vnet.CsumStart = 54; break;
            case "TCPV6 on IPv4": vnet.GsoType = VirtioNetHeader.GsoTcpV6; vnet.CsumStart = 40; frame[14] = 0x4F; break;
            case "TCP header cut": frame = frame[..40]; vnet.HdrLen = 0; vnet.Flags = 0; break;
            case "fragment": frame[20] |= 0x20; break;                // MF
            case "csum_start not the TCP header": vnet.CsumStart = 38; break;
            case "ARP": frame[12] = 0x08; frame[13] = 0x06; break;
            case "TCP data offset 4": frame[46] = 0x40; break;
        }
        var (verdict, segs) = Run(frame, vnet);
        Assert.Equal(GsoVerdict.Malformed, verdict);
        Assert.Empty(segs);
    }

    [Fact]
    public void TooManySegments_IsRefused()
    {
        var (frame, vnet) = GsoFrames.Build(new GsoFrameSpec(Payload: 60000, Mss: 40));
        var (verdict, segs) = Run(frame, vnet);
        Assert.Equal(GsoVerdict.TooManySegments, verdict);
        Assert.Empty(segs);
        (frame, vnet) = GsoFrames.Build(new GsoFrameSpec(Udp: true, Payload: 129 * 100, Mss: 100));
        Assert.Equal(GsoVerdict.TooManySegments, Run(frame, vnet).Verdict);
    }

    [Fact]
    public void LegacyUfoOverIpv4_BecomesFragmentsOfOneDatagram()
    {
        var (frame, vnet) = GsoFrames.Build(new GsoFrameSpec(Udp: true, Ufo: true, Payload: 3500, Mss: 1480));
        var (verdict, segs) = Run(frame, vnet, partial: true);   // UFO never stays partial
        Assert.Equal(GsoVerdict.Segmented, verdict);
        Assert.Equal([1480, 1480, 548], segs.Select(s => s.Frame.Length - 34));
        var datagram = new List<byte>();
        for (int i = 0; i < segs.Count; i++)
        {
            var (f, h) = segs[i];
            Assert.Equal(VirtioNetHeader.FlagDataValid, h.Flags);        // checksum done, as the kernel says
            Assert.Equal(VirtioNetHeader.GsoNone, h.GsoType);
            Assert.Equal(0x1234, U16(f, 18));                             // one datagram, one ID
            Assert.Equal((1480 * i / 8) | (i < 2 ? 0x2000 : 0), U16(f, 20)); // offset, MF
            Assert.Equal(f.Length - 14, U16(f, 16));
            Assert.True(InternetChecksum.Ipv4HeaderVerifies(f.AsSpan(14, 20)));
            datagram.AddRange(f[34..]);
        }
        // the reassembled datagram's checksum verifies and only it differs from the original
        byte[] whole = [.. frame[..34], .. datagram];
        BinaryPrimitives.WriteUInt16BigEndian(whole.AsSpan(16), (ushort)(whole.Length - 14));
        Assert.True(GsoFrames.TransportChecksumVerifies(whole));
        Assert.Equal(frame[42..], whole[42..]);
    }

    [Fact]
    public void LegacyUfo_FragmentSizeNotWholeUnits_IsRefused()
    {
        var (frame, vnet) = GsoFrames.Build(new GsoFrameSpec(Udp: true, Ufo: true, Payload: 3000, Mss: 1001));
        Assert.Equal(GsoVerdict.Malformed, Run(frame, vnet).Verdict);
    }

    [Fact]
    public void LegacyUfoOverIpv6_IsUnsupported()
    {
        var (frame, vnet) = GsoFrames.Build(new GsoFrameSpec(Ipv6: true, Udp: true, Ufo: true, Payload: 3000, Mss: 1000));
        var (verdict, segs) = Run(frame, vnet);
        Assert.Equal(GsoVerdict.Unsupported, verdict);
        Assert.Empty(segs);
    }

    [Fact]
    public void NotGso_IsRefused()
    {
        var (frame, vnet) = GsoFrames.Build(new GsoFrameSpec());
        vnet.GsoType = VirtioNetHeader.GsoNone;
        Assert.Equal(GsoVerdict.Malformed, Run(frame, vnet).Verdict);
    }

    [Fact]
    public void SinkFull_StopsWithTheSegmentsWrittenSoFar()
    {
        var (frame, vnet) = GsoFrames.Build(new GsoFrameSpec(Payload: 5000, Mss: 1000));
        var (verdict, segs) = Run(frame, vnet, limit: 2);
        Assert.Equal(GsoVerdict.SinkFull, verdict);
        Assert.Equal(2, segs.Count);
    }
}
