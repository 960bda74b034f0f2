// The crafted frames of the differential tests (spec Appendix A): ethertype 0x88B5 (or PAUSE
// 0x8808), optionally behind an 802.1Q tag, carrying a tag that names the injection. The tag's
// high half is fixed so nothing but our own frames can be mistaken for one, and both flavours of a
// test get the same tag for the same label because they inject in the same order.
using Mvtap.Core.Frames;

namespace Mvtap.Datapath.Tests.E2e;

internal static class E2eFrames
{
    public const uint TagBase = 0x4D560000; // "MV"

    /// <summary>A 60-byte frame (64 on the wire with FCS); with <paramref name="vlanTci"/>, 64 bytes with the 802.1Q tag inside.</summary>
    public static byte[] Build(MacAddress dst, MacAddress src, uint tag, ushort etherType = FrameObserver.TestEtherType, ushort? vlanTci = null)
    {
        int at = vlanTci is null ? 12 : 16;
        var f = new byte[at + 48];
        dst.Write(f);
        src.Write(f.AsSpan(6));
        if (vlanTci is ushort tci)
        {
            f[12] = 0x81; f[13] = 0x00;
            f[14] = (byte)(tci >> 8); f[15] = (byte)tci;
        }
        f[at] = (byte)(etherType >> 8); f[at + 1] = (byte)etherType;
        BitConverter.TryWriteBytes(f.AsSpan(at + 2), tag);
        return f;
    }

    /// <summary>02:00:00:00:hi:lo — fixed addresses so the kernel and the mvtap topology see identical frames.</summary>
    public static MacAddress Mac(int hi, int lo) => new(0x0200_0000_0000UL + (ulong)(uint)(hi * 256 + lo));
}
