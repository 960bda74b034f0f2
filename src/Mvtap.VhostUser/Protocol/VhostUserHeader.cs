// The 12-byte message header (u32 request, u32 flags, u32 size; native = little endian) and
// its flag bits. Replies must carry flags == 0x5 exactly: QEMU and DPDK reject anything else.
using System.Buffers.Binary;

namespace Mvtap.VhostUser.Protocol;

public readonly record struct VhostUserHeader(uint Request, uint Flags, uint Size)
{
    public const int Length = 12;
    public const uint VersionMask = 0x3;
    public const uint Version = 0x1;
    public const uint ReplyFlag = 0x4;
    public const uint NeedReplyFlag = 0x8;
    public const uint ReplyFlags = Version | ReplyFlag;

    /// <summary>The largest payload accepted. The biggest legitimate one for net (a full memory
    /// table, a config space) is a few hundred bytes; anything above is hostile or a desync.</summary>
    public const int MaxPayload = 4096;

    public bool NeedsReply => (Flags & NeedReplyFlag) != 0;

    public static VhostUserHeader Read(ReadOnlySpan<byte> b) => new(
        BinaryPrimitives.ReadUInt32LittleEndian(b),
        BinaryPrimitives.ReadUInt32LittleEndian(b[4..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[8..]));

    public void Write(Span<byte> b)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(b, Request);
        BinaryPrimitives.WriteUInt32LittleEndian(b[4..], Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(b[8..], Size);
    }
}
