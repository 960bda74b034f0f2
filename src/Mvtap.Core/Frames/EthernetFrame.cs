// Reads the fields of an Ethernet header straight from a frame span, without copying.
using System.Buffers.Binary;

namespace Mvtap.Core.Frames;

public static class EthernetFrame
{
    public const int HeaderLength = 14;
    public const int VlanTagLength = 4;

    public const ushort EtherTypeIPv4 = 0x0800;
    public const ushort EtherTypeArp = 0x0806;
    public const ushort EtherTypeVlan = 0x8100;
    public const ushort EtherTypeQinQ = 0x88A8;
    public const ushort EtherTypeIPv6 = 0x86DD;
    /// <summary>802.3x flow control; spec 3.2: never flooded to endpoints.</summary>
    public const ushort EtherTypePause = 0x8808;

    public static MacAddress Destination(ReadOnlySpan<byte> frame) => MacAddress.Read(frame);
    public static MacAddress Source(ReadOnlySpan<byte> frame) => MacAddress.Read(frame[6..]);
    public static ushort EtherType(ReadOnlySpan<byte> frame) => BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);

    /// <summary>
    /// The protocol the kernel's receive path gives a frame before macvlan's rx_handler sees it (skb->protocol):
    /// the ethertype, or behind one outer 802.1Q/802.1ad tag the one after it, since skb_vlan_untag moves
    /// that tag into metadata first. A frame an endpoint transmits carries its sender's protocol instead,
    /// for a raw frame the outer ethertype (<see cref="EtherType"/>).
    /// </summary>
    public static ushort ReceivedProtocol(ReadOnlySpan<byte> frame)
    {
        ushort type = EtherType(frame);
        return type is EtherTypeVlan or EtherTypeQinQ && frame.Length >= HeaderLength + VlanTagLength
            ? BinaryPrimitives.ReadUInt16BigEndian(frame[(12 + VlanTagLength)..])
            : type;
    }

    /// <summary>Writes destination, source and ethertype; returns the header length.</summary>
    public static int WriteHeader(Span<byte> frame, MacAddress dst, MacAddress src, ushort etherType)
    {
        dst.Write(frame);
        src.Write(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], etherType);
        return HeaderLength;
    }

    /// <summary>Offset of the network header and its ethertype, skipping up to two VLAN tags.</summary>
    public static bool TryFindNetworkHeader(ReadOnlySpan<byte> frame, out int offset, out ushort etherType)
    {
        offset = 12;
        etherType = 0;
        for (int tags = 0; tags <= 2; tags++)
        {
            if (frame.Length < offset + 2) return false;
            etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[offset..]);
            offset += 2;
            if (etherType is not (EtherTypeVlan or EtherTypeQinQ)) return true;
            offset += 2;
        }
        return false;
    }
}
