// Test GSO super-frames as a sending stack would hand them over (TCP, USO or UFO over IPv4/IPv6,
// optionally VLAN-tagged, NEEDS_CSUM with the pseudo-header sum in the checksum field), a sink
// that keeps every segment, and the checks every wire frame must pass. Shared with the Linux,
// VhostUser and Daemon test projects (linked in their csproj).
using System.Buffers.Binary;
using Mvtap.Core.Frames;

namespace Mvtap.Tests.Gso;

public sealed record GsoFrameSpec(
    bool Ipv6 = false, bool Udp = false, bool Vlan = false, int Payload = 3000, int Mss = 1000,
    int TcpOptions = 0, byte TcpFlags = 0x18, ushort IpId = 0x1234, uint Seq = 1000, bool Ecn = false,
    bool NeedsCsum = true, int Seed = 1, bool Ufo = false, byte[]? Dst = null, byte[]? Src = null);

public static class GsoFrames
{
    public static readonly byte[] DefaultDst = [0x02, 0, 0, 0, 0, 0xB1];
    public static readonly byte[] DefaultSrc = [0x02, 0, 0, 0, 0, 0xA1];

    public static (byte[] Frame, VirtioNetHeader Vnet) Build(GsoFrameSpec s)
    {
        int l2 = s.Vlan ? 18 : 14;
        int l3 = s.Ipv6 ? 40 : 20;
        int l4 = s.Udp ? 8 : 20 + s.TcpOptions;
        var f = new byte[l2 + l3 + l4 + s.Payload];
        (s.Dst ?? DefaultDst).CopyTo(f, 0);
        (s.Src ?? DefaultSrc).CopyTo(f, 6);
        if (s.Vlan)
        {
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x8100);
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), 0x0064); // VID 100
        }
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l2 - 2), (ushort)(s.Ipv6 ? 0x86DD : 0x0800));
        var ip = f.AsSpan(l2, l3);
        byte proto = (byte)(s.Udp ? 17 : 6);
        int l4Length = l4 + s.Payload;
        if (s.Ipv6)
        {
            ip[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)l4Length);
            ip[6] = proto; ip[7] = 64;
            ip[8] = 0xFD; ip[23] = 1; ip[24] = 0xFD; ip[39] = 2;
        }
        else
        {
            ip[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)Math.Min(65535, l3 + l4Length));
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], s.IpId);
            ip[6] = 0x40; ip[8] = 64; ip[9] = proto;
            ip[12] = 10; ip[15] = 1; ip[16] = 10; ip[19] = 2;
            InternetChecksum.WriteIpv4HeaderChecksum(ip);
        }
        var th = f.AsSpan(l2 + l3);
        BinaryPrimitives.WriteUInt16BigEndian(th, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(th[2..], 5001);
        if (s.Udp)
        {
            BinaryPrimitives.WriteUInt16BigEndian(th[4..], (ushort)Math.Min(65535, l4Length));
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(th[4..], s.Seq);
            BinaryPrimitives.WriteUInt32BigEndian(th[8..], 77);
            th[12] = (byte)((l4 / 4) << 4);
            th[13] = s.TcpFlags;
            BinaryPrimitives.WriteUInt16BigEndian(th[14..], 65535);
            for (int i = 0; i < s.TcpOptions; i++) th[20 + i] = 1; // NOP
        }
        var rng = new Random(s.Seed);
        rng.NextBytes(f.AsSpan(l2 + l3 + l4));
        int checkOffset = s.Udp ? 6 : 16;
        ulong pseudo = s.Ipv6
            ? InternetChecksum.PseudoHeaderV6(ip, proto, l4Length)
            : InternetChecksum.PseudoHeaderV4(ip, proto, l4Length);
        BinaryPrimitives.WriteUInt16BigEndian(th[checkOffset..], InternetChecksum.Fold(pseudo));
        byte kind = s.Ufo ? VirtioNetHeader.GsoUdp : s.Udp ? VirtioNetHeader.GsoUdpL4 : s.Ipv6 ? VirtioNetHeader.GsoTcpV6 : VirtioNetHeader.GsoTcpV4;
        var vnet = new VirtioNetHeader
        {
            Flags = s.NeedsCsum ? VirtioNetHeader.FlagNeedsCsum : (byte)0,
            GsoType = (byte)(kind | (s.Ecn ? VirtioNetHeader.GsoEcn : 0)),
            HdrLen = (ushort)(l2 + l3 + l4),
            GsoSize = (ushort)s.Mss,
            CsumStart = s.NeedsCsum ? (ushort)(l2 + l3) : (ushort)0,
            CsumOffset = s.NeedsCsum ? (ushort)checkOffset : (ushort)0,
        };
        return (f, vnet);
    }

    /// <summary>The offsets of the IP and transport headers of a test frame.</summary>
    public static (int Network, int Transport, bool Ipv6, bool Udp) Offsets(ReadOnlySpan<byte> f)
    {
        int l2 = BinaryPrimitives.ReadUInt16BigEndian(f[12..]) == 0x8100 ? 18 : 14;
        bool v6 = f[l2] >> 4 == 6;
        int l4 = l2 + (v6 ? 40 : (f[l2] & 0xF) * 4);
        byte proto = v6 ? f[l2 + 6] : f[l2 + 9];
        return (l2, l4, v6, proto == 17);
    }

    /// <summary>True if the TCP/UDP checksum of a wire frame verifies over the pseudo-header.</summary>
    public static bool TransportChecksumVerifies(ReadOnlySpan<byte> f)
    {
        var (nh, l4, v6, udp) = Offsets(f);
        int len = f.Length - l4;
        ulong pseudo = v6
            ? InternetChecksum.PseudoHeaderV6(f[nh..], (byte)(udp ? 17 : 6), len)
            : InternetChecksum.PseudoHeaderV4(f[nh..], (byte)(udp ? 17 : 6), len);
        return InternetChecksum.Fold(InternetChecksum.Add(pseudo, f[l4..])) == 0xFFFF;
    }

    /// <summary>Length of the TCP or UDP header of a test frame.</summary>
    public static int TransportHeaderLength(ReadOnlySpan<byte> f)
    {
        var (_, l4, _, udp) = Offsets(f);
        return udp ? 8 : (f[l4 + 12] >> 4) * 4;
    }
}

/// <summary>Keeps a copy of every segment and its header; room for <see cref="Limit"/> segments.</summary>
public struct CollectingSink : ISegmentSink
{
    private readonly byte[] _buffer = new byte[70000];
    public readonly List<(byte[] Frame, VirtioNetHeader Vnet)> Segments = [];
    public int Limit = int.MaxValue;

    public CollectingSink() { }

    public readonly Span<byte> Reserve(int length) => Segments.Count >= Limit ? default : _buffer;

    public readonly void Commit(int length, in VirtioNetHeader header) => Segments.Add((_buffer[..length], header));
}
