// What the negotiated virtio-net features make of a virtio-net header (Core's VirtioNetHeader,
// kernel-macvlan 5.5): its size on the rings and the offload rules in both directions. A header
// is only a promise the peer may rely on if the matching feature was negotiated; anything else
// is refused here.
using static Mvtap.Core.Frames.VirtioNetHeader;

namespace Mvtap.VhostUser.Net;

public static class VirtioNetOffloads
{
    /// <summary>The header size on the rings: 12 with VERSION_1 or MRG_RXBUF, else the legacy 10.</summary>
    public static int WireLength(ulong features) =>
        (features & (VirtioNetFeatures.Version1 | VirtioNetFeatures.MrgRxbuf)) != 0 ? SizeWithBuffers : Size;

    /// <summary>Guest to host: may the guest have sent this header, given what it acked?</summary>
    public static bool IsAllowedFromGuest(ReadOnlySpan<byte> h, ulong features)
    {
        if ((h[0] & FlagNeedsCsum) != 0 && (features & VirtioNetFeatures.Csum) == 0) return false;
        return Acked(h[1], features, VirtioNetFeatures.HostEcn, VirtioNetFeatures.HostTso4, VirtioNetFeatures.HostTso6, VirtioNetFeatures.HostUfo);
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
    public static bool GuestAcceptsGso(byte gso, ulong features) =>
        Acked(gso, features, VirtioNetFeatures.GuestEcn, VirtioNetFeatures.GuestTso4, VirtioNetFeatures.GuestTso6, VirtioNetFeatures.GuestUfo);

    /// <summary>Whether <paramref name="features"/> has the bits for GSO type <paramref name="gso"/>:
    /// none needed without GSO, <paramref name="ecn"/> for the ECN bit, then the type's own.</summary>
    private static bool Acked(byte gso, ulong features, ulong ecn, ulong tcpV4, ulong tcpV6, ulong udp)
    {
        if (gso == GsoNone) return true;
        if ((gso & GsoEcn) != 0 && (features & ecn) == 0) return false;
        return (gso & ~GsoEcn) switch
        {
            GsoTcpV4 => (features & tcpV4) != 0,
            GsoTcpV6 => (features & tcpV6) != 0,
            GsoUdp => (features & udp) != 0,
            _ => false,
        };
    }
}
