// The virtio-net header that travels in front of a frame on tap queues, AF_PACKET with
// PACKET_VNET_HDR and vhost-user rings: it carries checksum and GSO offload metadata so a
// 64 KB TCP segment crosses mvtap as one frame (spec 5.5). The one definition of its layout and
// constants: vhost-user's rings use it too (their feature rules are VhostUser's VirtioNetOffloads).
using System.Buffers.Binary;

namespace Mvtap.Core.Frames;

public struct VirtioNetHeader
{
    public const int Size = 10;
    /// <summary>With num_buffers (virtio_net_hdr_mrg_rxbuf / VERSION_1).</summary>
    public const int SizeWithBuffers = 12;
    /// <summary>Where num_buffers (little-endian 16 bits) sits in a 12-byte header.</summary>
    public const int NumBuffersOffset = 10;

    public const byte FlagNeedsCsum = 1;
    public const byte FlagDataValid = 2;

    public const byte GsoNone = 0;
    public const byte GsoTcpV4 = 1;
    public const byte GsoUdp = 3;
    public const byte GsoTcpV6 = 4;
    public const byte GsoUdpL4 = 5;
    public const byte GsoEcn = 0x80;

    public byte Flags;
    public byte GsoType;
    public ushort HdrLen;
    public ushort GsoSize;
    public ushort CsumStart;
    public ushort CsumOffset;
    public ushort NumBuffers;

    public readonly bool IsGso => GsoType != GsoNone;
    public readonly bool NeedsCsum => (Flags & FlagNeedsCsum) != 0;

    /// <summary>Reads a 10-byte header (or 12 with num_buffers); spec 5.5: only the first 10
    /// bytes carry meaning for a tap, the rest of a larger header is ignored.</summary>
    public static VirtioNetHeader Read(ReadOnlySpan<byte> src, bool bigEndian = false)
    {
        var h = new VirtioNetHeader { Flags = src[0], GsoType = src[1] };
        h.HdrLen = U16(src[2..], bigEndian);
        h.GsoSize = U16(src[4..], bigEndian);
        h.CsumStart = U16(src[6..], bigEndian);
        h.CsumOffset = U16(src[8..], bigEndian);
        if (src.Length >= SizeWithBuffers) h.NumBuffers = U16(src[NumBuffersOffset..], bigEndian);
        return h;
    }

    /// <summary>Writes the header into <paramref name="dst"/>, zero-filling bytes past the
    /// first 12 (6.18 zero-fills, spec 5.5).</summary>
    public readonly void Write(Span<byte> dst, bool bigEndian = false)
    {
        dst[0] = Flags;
        dst[1] = GsoType;
        W16(dst[2..], HdrLen, bigEndian);
        W16(dst[4..], GsoSize, bigEndian);
        W16(dst[6..], CsumStart, bigEndian);
        W16(dst[8..], CsumOffset, bigEndian);
        if (dst.Length >= SizeWithBuffers)
        {
            W16(dst[NumBuffersOffset..], NumBuffers, bigEndian);
            dst[SizeWithBuffers..].Clear();
        }
    }

    /// <summary>The kernel's virtio_net_hdr_to_skb checks for a header arriving with a frame
    /// from an endpoint (spec 5.5, write side). Returns false for a header the kernel would
    /// refuse with EINVAL.</summary>
    public readonly bool IsValidFor(ReadOnlySpan<byte> frame)
    {
        int len = frame.Length;
        int thlen = 0;
        if (GsoType != GsoNone)
        {
            int kind = GsoType & ~GsoEcn;
            if (kind is not (GsoTcpV4 or GsoUdp or GsoTcpV6 or GsoUdpL4)) return false;
            if (GsoSize == 0 || GsoSize == 0xFFFF) return false;
            thlen = kind is GsoTcpV4 or GsoTcpV6 ? 20 : 8;
            if (kind == GsoUdpL4 && (!NeedsCsum || CsumOffset != 6)) return false;
            if (kind is GsoTcpV4 or GsoTcpV6 && NeedsCsum && CsumOffset != 16) return false;
        }
        int hdrLen = HdrLen;
        if (NeedsCsum)
        {
            int start = CsumStart, end = CsumStart + CsumOffset + 2;
            hdrLen = Math.Max(end, hdrLen);
            int minStart = (GsoType & ~GsoEcn) == GsoTcpV6 ? 40 : 20;
            if (start < minStart) return false;
            if (start + Math.Max(thlen, CsumOffset + 2) > len) return false;
            if (end > len || start + thlen > len) return false;
        }
        else if (GsoType != GsoNone && !HasL4Header(frame, GsoType & ~GsoEcn))
        {
            return false;
        }
        return hdrLen <= len;
    }

    // spec 5.5 rule 3: GSO without NEEDS_CSUM must dissect to an L4 header of the right protocol.
    private static bool HasL4Header(ReadOnlySpan<byte> frame, int kind)
    {
        if (!EthernetFrame.TryFindNetworkHeader(frame, out int nh, out ushort type)) return false;
        byte proto;
        int l4;
        if (type == EthernetFrame.EtherTypeIPv4 && frame.Length >= nh + 20)
        {
            proto = frame[nh + 9];
            l4 = nh + (frame[nh] & 0x0F) * 4;
        }
        else if (type == EthernetFrame.EtherTypeIPv6 && frame.Length >= nh + 40)
        {
            proto = frame[nh + 6];
            l4 = nh + 40;
        }
        else return false;
        bool tcp = kind is GsoTcpV4 or GsoTcpV6;
        return tcp ? proto == 6 && frame.Length >= l4 + 20 : proto == 17 && frame.Length >= l4 + 8;
    }

    private static ushort U16(ReadOnlySpan<byte> s, bool be) =>
        be ? BinaryPrimitives.ReadUInt16BigEndian(s) : BinaryPrimitives.ReadUInt16LittleEndian(s);

    private static void W16(Span<byte> s, ushort v, bool be)
    {
        if (be) BinaryPrimitives.WriteUInt16BigEndian(s, v);
        else BinaryPrimitives.WriteUInt16LittleEndian(s, v);
    }
}
