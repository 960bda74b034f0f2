// The fields of an IPv4 fragment that reassembly needs, read from a frame as the kernel's
// ip_check_defrag reads them: an untagged or single-tagged (the core's skb_vlan_untag) IPv4
// header of version 4 and IHL >= 5 whose total length fits the frame and covers the header,
// with MF set or a non-zero offset. Anything else is not a fragment and is forwarded unchanged.
using System.Buffers.Binary;

namespace Mvtap.Core.Frames;

public readonly struct Ipv4Fragment
{
    public const ushort FlagMoreFragments = 0x2000;
    public const ushort FlagDontFragment = 0x4000;
    public const ushort OffsetMask = 0x1FFF;

    /// <summary>Where the IPv4 header starts: 14, or 18 behind one VLAN tag.</summary>
    public int NetworkOffset { get; init; }
    /// <summary>IHL in bytes (20..60).</summary>
    public int HeaderLength { get; init; }
    /// <summary>The header's total length: header plus this fragment's payload (Ethernet padding excluded).</summary>
    public int TotalLength { get; init; }
    /// <summary>Fragment offset in bytes.</summary>
    public int Offset { get; init; }
    public bool MoreFragments { get; init; }
    public bool DontFragment { get; init; }
    public ushort Id { get; init; }
    public byte Protocol { get; init; }
    public byte Tos { get; init; }
    public uint Source { get; init; }
    public uint Destination { get; init; }

    public int PayloadLength => TotalLength - HeaderLength;

    /// <summary>The IPv4 header's offset in <paramref name="frame"/> if its ethertype, directly or
    /// behind one 802.1Q/802.1ad tag, is IPv4; -1 otherwise.</summary>
    public static int FindIpv4(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < EthernetFrame.HeaderLength) return -1;
        ushort type = EthernetFrame.EtherType(frame);
        if (type == EthernetFrame.EtherTypeIPv4) return EthernetFrame.HeaderLength;
        if (type is not (EthernetFrame.EtherTypeVlan or EthernetFrame.EtherTypeQinQ) || frame.Length < 18) return -1;
        return BinaryPrimitives.ReadUInt16BigEndian(frame[16..]) == EthernetFrame.EtherTypeIPv4 ? 18 : -1;
    }

    /// <summary>True when ip_check_defrag would hand <paramref name="frame"/> to ip_defrag.</summary>
    public static bool TryRead(ReadOnlySpan<byte> frame, out Ipv4Fragment fragment)
    {
        fragment = default;
        int net = FindIpv4(frame);
        if (net < 0 || frame.Length < net + 20) return false;
        var ip = frame[net..];
        int ihl = (ip[0] & 0x0F) * 4;
        if (ihl < 20 || ip[0] >> 4 != 4) return false;
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (ip.Length < total || total < ihl) return false;
        ushort flags = BinaryPrimitives.ReadUInt16BigEndian(ip[6..]);
        if ((flags & (FlagMoreFragments | OffsetMask)) == 0) return false;
        fragment = new Ipv4Fragment
        {
            NetworkOffset = net,
            HeaderLength = ihl,
            TotalLength = total,
            Offset = (flags & OffsetMask) * 8,
            MoreFragments = (flags & FlagMoreFragments) != 0,
            DontFragment = (flags & FlagDontFragment) != 0,
            Id = BinaryPrimitives.ReadUInt16BigEndian(ip[4..]),
            Protocol = ip[9],
            Tos = ip[1],
            Source = BinaryPrimitives.ReadUInt32BigEndian(ip[12..]),
            Destination = BinaryPrimitives.ReadUInt32BigEndian(ip[16..]),
        };
        return true;
    }
}
