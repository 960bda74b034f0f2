// IPv4 fragments for the reassembly tests: any offset, length, flags, IHL (options filled with
// NOOPs), TOS and VLAN tag, payload bytes given or a fill byte.
using System.Buffers.Binary;
using Mvtap.Core.Frames;

namespace Mvtap.Core.Tests;

internal static class FragmentFrames
{
    public const uint SourceIp = 0x0a000001;
    public const uint MdnsIp = 0xe00000fb;                    // 224.0.0.251
    public static readonly MacAddress Mdns = MacAddress.Parse("01:00:5e:00:00:fb");

    public static byte[] Fragment(MacAddress dst, ushort id, int offset, ReadOnlySpan<byte> payload, bool more,
        int ihl = 20, byte tos = 0, bool df = false, uint source = SourceIp, uint destination = 0xffffffff,
        byte protocol = 17, ushort? vlan = null)
    {
        int net = vlan is null ? 14 : 18;
        var f = new byte[net + ihl + payload.Length];
        EthernetFrame.WriteHeader(f, dst, Frames.Ext, vlan is null ? EthernetFrame.EtherTypeIPv4 : EthernetFrame.EtherTypeVlan);
        if (vlan is { } tag)
        {
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), tag);
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), EthernetFrame.EtherTypeIPv4);
        }
        var ip = f.AsSpan(net);
        ip[0] = (byte)(0x40 | ihl / 4);
        ip[1] = tos;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(ihl + payload.Length));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], id);
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], (ushort)((more ? 0x2000 : 0) | (df ? 0x4000 : 0) | (offset / 8)));
        ip[8] = 64;
        ip[9] = protocol;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], source);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], destination);
        ip[20..ihl].Fill(1); // NOOP options
        InternetChecksum.WriteIpv4HeaderChecksum(ip[..ihl]);
        payload.CopyTo(ip[ihl..]);
        return f;
    }

    public static byte[] Fragment(MacAddress dst, ushort id, int offset, int length, bool more, byte fill, uint destination = 0xffffffff) =>
        Fragment(dst, id, offset, Filled(length, fill), more, destination: destination);

    public static byte[] Filled(int length, byte fill)
    {
        var b = new byte[length];
        b.AsSpan().Fill(fill);
        return b;
    }

    /// <summary>The IP payload of a delivered frame (untagged).</summary>
    public static ReadOnlySpan<byte> Payload(byte[] frame) => frame.AsSpan(14 + (frame[14] & 0x0F) * 4);
}
