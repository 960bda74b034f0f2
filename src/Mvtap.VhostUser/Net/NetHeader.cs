// The virtio-net header as 12 raw bytes (kernel-macvlan 5.5): its size for the negotiated
// features and the offload rules in both directions. A header is only a promise the peer may
// rely on if the matching feature was negotiated; anything else is refused here.
using System.Buffers.Binary;

namespace Mvtap.VhostUser.Net;

public static class NetHeader
{
    /// <summary>What the batch stores per frame: the 12-byte virtio_net_hdr_v1.</summary>
    public const int Length = 12;
    public const byte FlagNeedsCsum = 1;
    public const byte FlagDataValid = 2;
    public const byte GsoNone = 0;
    public const byte GsoTcpV4 = 1;
    public const byte GsoUdp = 3;
    public const byte GsoTcpV6 = 4;
    public const byte GsoEcn = 0x80;
    public const int NumBuffersOffset = 10;

    /// <summary>The header size on the rings: 12 with VERSION_1 or MRG_RXBUF, else the legacy 10.</summary>
    public static int WireLength(ulong features) =>
        (features & (VirtioNetFeatures.Version1 | VirtioNetFeatures.MrgRxbuf)) != 0 ? 12 : 10;

    public static byte Flags(ReadOnlySpan<byte> h) => h[0];
    public static byte GsoType(ReadOnlySpan<byte> h) => h[1];
    public static ushort GsoSize(ReadOnlySpan<byte> h) => BinaryPrimitives.ReadUInt16LittleEndian(h[4..]);
    public static ushort NumBuffers(ReadOnlySpan<byte> h) => BinaryPrimitives.ReadUInt16LittleEndian(h[NumBuffersOffset..]);

    /// <summary>Guest to host: may the guest have sent this header, given what it acked?</summary>
    public static bool IsAllowedFromGuest(ReadOnlySpan<byte> h, ulong features)
    {
        if ((h[0] & FlagNeedsCsum) != 0 && (features & VirtioNetFeatures.Csum) == 0) return false;
        byte gso = h[1];
        if (gso == GsoNone) return true;
        if ((gso & GsoEcn) != 0 && (features & VirtioNetFeatures.HostEcn) == 0) return false;
        return (gso & ~GsoEcn) switch
        {
            GsoTcpV4 => (features & VirtioNetFeatures.HostTso4) != 0,
            GsoTcpV6 => (features & VirtioNetFeatures.HostTso6) != 0,
            GsoUdp => (features & VirtioNetFeatures.HostUfo) != 0,
            _ => false,
        };
    }

    /// <summary>Host to guest: can the guest accept this header? DATA_VALID is cleared when the
    /// guest did not ack GUEST_CSUM (it is only a hint); a partial checksum or a GSO type the
    /// guest did not ack cannot be delivered and returns false.</summary>
    public static bool PrepareForGuest(Span<byte> h, ulong features)
    {
        bool guestCsum = (features & VirtioNetFeatures.GuestCsum) != 0;
        if (!guestCsum)
        {
            if ((h[0] & FlagNeedsCsum) != 0) return false;
            h[0] = (byte)(h[0] & ~FlagDataValid);
        }
        return GuestAcceptsGso(h[1], features);
    }

    /// <summary>Host to guest: did the guest ack the GUEST_* features to receive this GSO type
    /// whole? When not, the frame must be segmented before it is delivered (spec 5.6).</summary>
    public static bool GuestAcceptsGso(byte gso, ulong features)
    {
        if (gso == GsoNone) return true;
        if ((gso & GsoEcn) != 0 && (features & VirtioNetFeatures.GuestEcn) == 0) return false;
        return (gso & ~GsoEcn) switch
        {
            GsoTcpV4 => (features & VirtioNetFeatures.GuestTso4) != 0,
            GsoTcpV6 => (features & VirtioNetFeatures.GuestTso6) != 0,
            GsoUdp => (features & VirtioNetFeatures.GuestUfo) != 0,
            _ => false,
        };
    }
}
