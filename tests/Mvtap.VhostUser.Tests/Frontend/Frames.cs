// Test frames and virtio-net headers with recognisable contents.
using System.Buffers.Binary;
using Mvtap.Core.Frames;
using Mvtap.VhostUser.Net;

namespace Mvtap.VhostUser.Tests.Frontend;

public static class Frames
{
    /// <summary>An Ethernet frame of <paramref name="length"/> bytes: broadcast destination,
    /// a fixed source, IPv4 ethertype, then a byte pattern seeded by <paramref name="seed"/>.</summary>
    public static byte[] Make(int length, int seed = 1)
    {
        var f = new byte[length];
        for (int i = 0; i < length; i++) f[i] = (byte)(i * 7 + seed);
        f.AsSpan(0, 6).Fill(0xff);
        byte[] src = [0x52, 0x54, 0x00, 0x12, 0x34, (byte)seed];
        src.CopyTo(f, 6);
        f[12] = 0x08;
        f[13] = 0x00;
        return f;
    }

    public static byte[] Header(byte flags = 0, byte gsoType = 0, ushort hdrLen = 0, ushort gsoSize = 0,
        ushort csumStart = 0, ushort csumOffset = 0, ushort numBuffers = 0)
    {
        var h = new byte[VirtioNetHeader.SizeWithBuffers];
        h[0] = flags;
        h[1] = gsoType;
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(2), hdrLen);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(4), gsoSize);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(6), csumStart);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(8), csumOffset);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(10), numBuffers);
        return h;
    }

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
}
