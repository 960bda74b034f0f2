// Seeded generator of broken frames for the flood tests (issue 9): the frames of the reassembly
// findings, and many more of every broken kind: IPv4 headers with IHL 0-15, total lengths that
// lie, headers cut short, fragments at every boundary near 65535, datagrams with holes and
// overlaps, 1-5 VLAN tags, and random bytes from 0 bytes up to the largest frame the sender's
// interface accepts. Destinations mix broadcast, IPv4 multicast, the endpoints' MACs and
// unknown unicast, so the frames take every forwarding path. The same seed gives the same frames.
using System.Buffers.Binary;
using Mvtap.Core.Frames;

namespace Mvtap.Daemon.Tests;

internal sealed class BrokenFrames(int seed, MacAddress source, MacAddress[] endpoints, int maxFrame)
{
    public static readonly string[] Kinds = ["findings", "ihl", "total-length", "truncated", "boundaries", "holes-overlaps", "vlan-tags", "random-bytes"];
    private static readonly MacAddress Mdns = MacAddress.Parse("01:00:5e:00:00:fb");
    private readonly Random _r = new(seed);

    /// <summary>Source MAC of most frames; some get a random one (spoofed, from an endpoint).</summary>
    public MacAddress Source { get; } = source;

    public List<byte[]> Burst(string kind, int count)
    {
        var frames = new List<byte[]>();
        if (kind == "findings") Findings(frames);
        while (frames.Count < count)
        {
            switch (kind)
            {
                case "findings": Findings(frames); break;
                case "ihl": frames.Add(Ip(Dst(), ihlNibble: _r.Next(16), payload: _r.Next(0, 200))); break;
                case "total-length": frames.Add(LyingLength()); break;
                case "truncated": frames.Add(Truncated()); break;
                case "boundaries": frames.Add(Boundary()); break;
                case "holes-overlaps": HolesAndOverlaps(frames); break;
                case "vlan-tags": frames.Add(Tagged()); break;
                default: frames.Add(RandomBytes()); break;
            }
        }
        return frames;
    }

    private MacAddress Dst() => _r.Next(5) switch
    {
        0 => MacAddress.Broadcast,
        1 => Mdns,
        2 => new MacAddress(0x01005E000000UL | (uint)_r.Next(0, 0x7FFFFF)),
        3 => endpoints[_r.Next(endpoints.Length)],
        _ => new MacAddress(0x020000000000UL | (ulong)_r.NextInt64(1, 0xFFFFFFFFFF)),
    };

    private MacAddress Src() => _r.Next(8) == 0 ? new MacAddress(0x020000000000UL | (ulong)_r.NextInt64(1, 0xFFFFFFFFFF)) : Source;

    /// <summary>An Ethernet + IPv4 frame; every field as asked, the rest random but plausible.</summary>
    private byte[] Ip(MacAddress dst, int ihlNibble = 5, int payload = 32, int? totalLength = null, int offset = 0, bool more = false,
        ushort? id = null, uint daddr = 0xE00000FB, int tags = 0)
    {
        int ihl = Math.Max(ihlNibble, 5) * 4;
        int net = 14 + 4 * tags;
        var f = new byte[Math.Min(net + ihl + payload, maxFrame)];
        EthernetFrame.WriteHeader(f, dst, Src(), tags > 0 ? EthernetFrame.EtherTypeVlan : EthernetFrame.EtherTypeIPv4);
        for (int t = 0; t < tags; t++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14 + 4 * t), (ushort)_r.Next(4096));
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16 + 4 * t), t + 1 < tags ? (_r.Next(2) == 0 ? EthernetFrame.EtherTypeVlan : EthernetFrame.EtherTypeQinQ) : EthernetFrame.EtherTypeIPv4);
        }
        if (f.Length < net + 20) return f;
        var ip = f.AsSpan(net);
        ip[0] = (byte)(0x40 | ihlNibble);
        ip[1] = (byte)_r.Next(256);
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(totalLength ?? Math.Min(ihl + payload, 65535)));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], id ?? (ushort)_r.Next(8));
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], (ushort)((more ? 0x2000 : 0) | (offset / 8 & 0x1FFF)));
        ip[8] = 64;
        ip[9] = 17;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], 0x0A500063);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], daddr);
        if (ip.Length > 20) _r.NextBytes(ip[20..]);
        return f;
    }

    // issue 9, points 1-2: a fragment ending between 65476 and 65535 - IHL; a datagram whose
    // fragments add up but leave a hole; junk first fragments meant to fill every slot
    private void Findings(List<byte[]> frames)
    {
        foreach (bool more in new[] { true, false })
            frames.Add(Ip(Mdns, payload: 8, offset: 65472, more: more, id: 0xF1));
        ushort hole = (ushort)_r.Next(0x100, 0x200);
        frames.Add(Ip(MacAddress.Broadcast, payload: 8, offset: 0, more: true, id: hole, daddr: 0xFFFFFFFF));
        frames.Add(Ip(MacAddress.Broadcast, payload: 984, offset: 1000, more: true, id: hole, daddr: 0xFFFFFFFF));
        frames.Add(Ip(MacAddress.Broadcast, payload: 8, offset: 992, more: false, id: hole, daddr: 0xFFFFFFFF));
        for (int i = 0; i < 20; i++) frames.Add(Ip(Mdns, payload: 8, offset: 0, more: true, id: (ushort)(0x1000 + _r.Next(0x1000))));
        // a datagram of 65516 payload bytes: complete, but one byte over the limit (when frames that large fit)
        if (maxFrame >= 14 + 20 + 32768)
        {
            ushort big = (ushort)_r.Next(0x3000, 0x4000);
            frames.Add(Ip(Mdns, payload: 32768, offset: 0, more: true, id: big));
            frames.Add(Ip(Mdns, payload: 65516 - 32768, offset: 32768, more: false, id: big));
        }
    }

    private byte[] LyingLength()
    {
        int payload = _r.Next(0, 300);
        int ihl = 20;
        int lie = _r.Next(5) switch
        {
            0 => 0,
            1 => _r.Next(0, ihl),
            2 => ihl + payload + _r.Next(1, 2000),
            3 => 65535,
            _ => _r.Next(0, 65536),
        };
        return Ip(Dst(), payload: payload, totalLength: lie, offset: _r.Next(2) * 8 * _r.Next(8192), more: _r.Next(2) == 0);
    }

    private byte[] Truncated()
    {
        var f = Ip(Dst(), ihlNibble: 5 + _r.Next(11), payload: _r.Next(0, 40), offset: 8 * _r.Next(8192), more: true, tags: _r.Next(2));
        return f[..Math.Min(f.Length, _r.Next(14, 14 + 4 + 61))];
    }

    private byte[] Boundary()
    {
        int offset = 65528 - 8 * _r.Next(0, 12);
        int ihlNibble = 5 + _r.Next(11);
        int ihl = ihlNibble * 4;
        int end = _r.Next(4) switch { 0 => 65535 - ihl, 1 => 65535 - ihl + 1, 2 => 65515 + _r.Next(-8, 9), _ => 65535 + _r.Next(0, 9) };
        int payload = Math.Clamp(end - offset, 0, maxFrame - 14 - ihl);
        return Ip(Dst(), ihlNibble: ihlNibble, payload: payload, offset: offset, more: _r.Next(2) == 0, id: (ushort)_r.Next(4));
    }

    private void HolesAndOverlaps(List<byte[]> frames)
    {
        ushort id = (ushort)_r.Next(0x5000, 0x6000);
        var dst = _r.Next(2) == 0 ? MacAddress.Broadcast : Mdns;
        int chunk = 8 * _r.Next(1, 60);
        int pieces = _r.Next(2, 8);
        for (int i = 0; i < pieces; i++)
        {
            int offset = i * chunk;
            switch (_r.Next(5))
            {
                case 0: continue;                                                  // a hole
                case 1: offset += 8 * _r.Next(-2, 3); break;                       // overlapping a neighbour
                case 2: frames.Add(Ip(dst, payload: chunk, offset: offset, more: true, id: id)); break; // repeated
            }
            frames.Add(Ip(dst, payload: chunk, offset: Math.Max(0, offset), more: i + 1 < pieces, id: id));
        }
    }

    private byte[] Tagged()
    {
        int tags = _r.Next(1, 6);
        return _r.Next(2) == 0
            ? Ip(Dst(), payload: _r.Next(8, 300) / 8 * 8, offset: 8 * _r.Next(0, 4), more: _r.Next(2) == 0, tags: tags)
            : Ip(Dst(), ihlNibble: _r.Next(16), payload: _r.Next(0, 100), tags: tags, totalLength: _r.Next(65536));
    }

    private byte[] RandomBytes()
    {
        int length = _r.Next(10) switch
        {
            0 => maxFrame,
            1 => _r.Next(0, maxFrame + 1),
            2 => _r.Next(0, 15),
            _ => _r.Next(14, 1600),
        };
        var f = new byte[length];
        _r.NextBytes(f);
        if (length >= 12 && _r.Next(2) == 0)
        {
            Dst().Write(f);
            Src().Write(f.AsSpan(6));
        }
        if (length >= 14 && _r.Next(3) == 0) BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), EthernetFrame.EtherTypeIPv4);
        return f;
    }
}
