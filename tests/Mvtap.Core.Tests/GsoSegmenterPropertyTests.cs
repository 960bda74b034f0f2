// GsoSegmenter by property (CsCheck): for random payload sizes, MSS, TCP options, IPv4/IPv6,
// VLAN tag, TCP or UDP, full or partial checksums, the segments carry the original payload in
// order, every IPv4 header and TCP/UDP checksum verifies, the length fields agree with the
// frame, and no segment carries more than MSS bytes of payload; legacy UFO fragments line up
// (offsets, MF, one ID) and reassemble to the datagram with a verifying checksum.
using System.Buffers.Binary;
using CsCheck;
using Mvtap.Core.Frames;
using Mvtap.Tests.Gso;

namespace Mvtap.Core.Tests;

public sealed class GsoSegmenterPropertyTests
{
    private static readonly Gen<GsoFrameSpec> Specs =
        from udp in Gen.Bool
        from ipv6 in Gen.Bool
        from vlan in Gen.Bool
        from payload in Gen.Int[0, 30000]
        from mssRaw in Gen.Int[1, 9000]
        from options in Gen.Int[0, 10]
        from flags in Gen.Byte
        from ipId in Gen.UShort
        from seq in Gen.UInt
        from seed in Gen.Int
        let limit = udp ? GsoSegmenter.MaxUdpSegments : GsoSegmenter.MaxSegments
        let mss = Math.Max(mssRaw, (payload + limit - 1) / limit)
        select new GsoFrameSpec(Ipv6: ipv6, Udp: udp, Vlan: vlan, Payload: payload, Mss: mss, TcpOptions: options * 4,
            TcpFlags: flags, IpId: ipId, Seq: seq, Seed: seed);

    [Fact]
    public void SegmentsReassembleAndVerify()
    {
        Gen.Select(Specs, Gen.Bool).Sample((spec, partial) =>
        {
            var (frame, vnet) = GsoFrames.Build(spec);
            var sink = new CollectingSink();
            var verdict = GsoSegmenter.Segment(frame, vnet, partial, ref sink, out int total, out _);
            Assert.Equal(GsoVerdict.Segmented, verdict);
            Assert.Equal(total, sink.Segments.Count);
            int headers = vnet.HdrLen;
            var (nh, l4, ipv6, udp) = GsoFrames.Offsets(frame);
            var payload = new List<byte>();
            for (int i = 0; i < sink.Segments.Count; i++)
            {
                var (f, h) = sink.Segments[i];
                Assert.True(f.Length - headers <= spec.Mss);
                Assert.True(f.Length > headers || spec.Payload == 0);
                if (ipv6) Assert.Equal(f.Length - nh - 40, BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(nh + 4)));
                else
                {
                    Assert.Equal(f.Length - nh, BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(nh + 2)));
                    Assert.True(InternetChecksum.Ipv4HeaderVerifies(f.AsSpan(nh, l4 - nh)));
                    Assert.Equal((ushort)(spec.IpId + i), BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(nh + 4)));
                }
                if (udp) Assert.Equal(f.Length - l4, BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(l4 + 4)));
                else Assert.Equal(spec.Seq + (uint)(i * spec.Mss), BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(l4 + 4)));
                if (partial)
                {
                    Assert.Equal(VirtioNetHeader.FlagNeedsCsum, h.Flags);
                    Assert.True(PartialChecksum.Complete(f, h.CsumStart, h.CsumOffset));
                }
                else Assert.Equal(default, h);
                Assert.True(GsoFrames.TransportChecksumVerifies(f));
                payload.AddRange(f[headers..]);
            }
            Assert.Equal(frame[headers..], payload.ToArray());
        }, iter: 300);
    }

    [Fact]
    public void UfoFragmentsReassembleToTheDatagram()
    {
        var specs =
            from vlan in Gen.Bool
            from payload in Gen.Int[0, 30000]
            from units in Gen.Int[1, 1100]
            from ipId in Gen.UShort
            from seed in Gen.Int
            let mss = 8 * Math.Max(units, (payload + 8 + 8 * GsoSegmenter.MaxSegments - 1) / (8 * GsoSegmenter.MaxSegments))
            select new GsoFrameSpec(Udp: true, Ufo: true, Vlan: vlan, Payload: payload, Mss: mss, IpId: ipId, Seed: seed);
        specs.Sample(spec =>
        {
            var (frame, vnet) = GsoFrames.Build(spec);
            var sink = new CollectingSink();
            Assert.Equal(GsoVerdict.Segmented, GsoSegmenter.Segment(frame, vnet, false, ref sink, out int total, out _));
            var (nh, l4, _, _) = GsoFrames.Offsets(frame);
            var datagram = new List<byte>();
            for (int i = 0; i < total; i++)
            {
                var f = sink.Segments[i].Frame;
                ushort fragOff = BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(nh + 6));
                Assert.Equal(datagram.Count / 8, fragOff & 0x1FFF);
                Assert.Equal(i < total - 1, (fragOff & 0x2000) != 0);
                Assert.Equal(spec.IpId, BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(nh + 4)));
                Assert.Equal(f.Length - nh, BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(nh + 2)));
                Assert.True(InternetChecksum.Ipv4HeaderVerifies(f.AsSpan(nh, l4 - nh)));
                Assert.True(f.Length - l4 <= spec.Mss);
                datagram.AddRange(f[l4..]);
            }
            byte[] whole = [.. frame[..l4], .. datagram];
            Assert.True(GsoFrames.TransportChecksumVerifies(whole));
            Assert.Equal(frame[(l4 + 8)..], whole[(l4 + 8)..]);
        }, iter: 200);
    }
}
