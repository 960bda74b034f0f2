// Frame builders for the core's tests: small, explicit, tagged so a delivery can be traced.
using System.Buffers.Binary;
using Mvtap.Core.Frames;

namespace Mvtap.Core.Tests;

internal static class Frames
{
    public const ushort TestEtherType = 0x88B5;
    private static int _tag;

    public static byte[] Make(MacAddress dst, MacAddress src, ushort etherType = TestEtherType, int length = 60)
    {
        var f = new byte[length];
        EthernetFrame.WriteHeader(f, dst, src, etherType);
        if (length >= 18) BinaryPrimitives.WriteInt32BigEndian(f.AsSpan(14), Interlocked.Increment(ref _tag));
        return f;
    }

    /// <summary>As <see cref="Make"/>, behind an 802.1Q tag of VLAN <paramref name="vid"/>: 64 bytes.</summary>
    public static byte[] MakeTagged(MacAddress dst, MacAddress src, ushort innerType = TestEtherType, ushort vid = 5)
    {
        var f = Make(dst, src, EthernetFrame.EtherTypeVlan, 64);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), vid);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), innerType);
        BinaryPrimitives.WriteInt32BigEndian(f.AsSpan(18), Interlocked.Increment(ref _tag));
        return f;
    }

    public static MacAddress Mac(string s) => MacAddress.Parse(s);

    public static readonly MacAddress Ext = Mac("02:00:00:00:ee:01");
    public static readonly MacAddress Unknown = Mac("02:00:00:00:99:99");
    public static readonly MacAddress Group = Mac("01:00:5e:01:02:03");
    public static readonly MacAddress OtherGroup = Mac("01:00:5e:07:08:09");
}
