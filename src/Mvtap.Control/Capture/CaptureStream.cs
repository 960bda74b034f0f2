// The capture stream on the control socket. After mvtapd accepts a CaptureRequest (an ordinary
// response frame), the same connection carries frames (ControlFraming) whose first byte says
// what follows: Blocks (whole pcapng blocks, the first frame starting with the Section Header
// Block) or End (a CaptureSummary as JSON; the stream's last frame). The client asks for the end
// by sending any byte (or closing). Both decoders here take mvtapd's bytes as outside input:
// every length is checked before it is used, and anything malformed is a ControlProtocolException.
using System.Buffers.Binary;
using System.Text.Json;

namespace Mvtap.Control.Capture;

public static class CaptureStream
{
    public const byte Blocks = 1, End = 2;
    /// <summary>What a client sends to end the capture.</summary>
    public const byte Stop = 0x53;
    /// <summary>The largest block mvtapd writes: an Enhanced VnetFrame Block of the largest snaplen, with its options.</summary>
    public const int MaxBlockSize = CaptureLimits.MaxSnaplen + 64;

    /// <summary>Checks that <paramref name="blocks"/> is a run of whole pcapng blocks of the kinds a
    /// capture holds, each of a valid length with a matching trailer, the section header first in a
    /// stream (<paramref name="first"/>). Returns how many Enhanced VnetFrame Blocks it holds.</summary>
    public static int CheckBlocks(ReadOnlySpan<byte> blocks, bool first)
    {
        int packets = 0, at = 0;
        while (at < blocks.Length)
        {
            if (blocks.Length - at < 12) throw Malformed($"{blocks.Length - at} bytes left where a block of at least 12 starts");
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(blocks[at..]);
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(blocks[(at + 4)..]);
            if (length < 12 || length % 4 != 0 || length > MaxBlockSize || length > (uint)(blocks.Length - at))
                throw Malformed($"block of type {type:x} has a bad length {length}");
            if (BinaryPrimitives.ReadUInt32LittleEndian(blocks[(at + (int)length - 4)..]) != length)
                throw Malformed($"block of type {type:x} ends with another length than it starts with");
            if (first && at == 0 && type != PcapngWriter.SectionHeaderType) throw Malformed("the stream does not start with a section header");
            switch (type)
            {
                case PcapngWriter.SectionHeaderType:
                    if (length < 28 || BinaryPrimitives.ReadUInt32LittleEndian(blocks[(at + 8)..]) != PcapngWriter.ByteOrderMagic)
                        throw Malformed("section header without the little-endian byte-order magic");
                    break;
                case PcapngWriter.EnhancedPacketType:
                    if (length < 32) throw Malformed("enhanced packet block shorter than its fixed part");
                    uint captured = BinaryPrimitives.ReadUInt32LittleEndian(blocks[(at + 20)..]);
                    if (captured > length - 32) throw Malformed($"enhanced packet block says {captured} captured bytes in a block of {length}");
                    packets++;
                    break;
                case PcapngWriter.InterfaceDescriptionType:
                case PcapngWriter.InterfaceStatisticsType:
                    break;
                default:
                    throw Malformed($"unexpected block type {type:x}");
            }
            at += (int)length;
        }
        return packets;
    }

    public static byte[] EncodeSummary(CaptureSummary summary)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(summary, ControlJsonContext.Default.CaptureSummary);
        var frame = new byte[json.Length + 1];
        frame[0] = End;
        json.CopyTo(frame, 1);
        return frame;
    }

    public static CaptureSummary DecodeSummary(ReadOnlySpan<byte> json)
    {
        try
        {
            var s = JsonSerializer.Deserialize(json, ControlJsonContext.Default.CaptureSummary) ?? throw Malformed("capture summary is JSON null");
            if (s.Captured < 0 || s.Dropped < 0 || s.Seen < 0) throw Malformed("capture summary with a negative count");
            return s;
        }
        catch (JsonException e)
        {
            throw new ControlProtocolException($"undecodable capture summary: {e.Message}", e);
        }
    }

    private static ControlProtocolException Malformed(string what) => new($"malformed capture stream: {what}");
}

/// <summary>How a capture ended: frames written, frames the taps matched, frames lost because the
/// reader fell behind, and why it ended when it was not asked to ("g0 was deleted"; null otherwise).</summary>
public sealed record CaptureSummary
{
    public long Captured { get; set; }
    public long Seen { get; set; }
    public long Dropped { get; set; }
    public string? Ended { get; set; }
}

/// <summary>Bounds of a capture request, checked on both sides.</summary>
public static class CaptureLimits
{
    /// <summary>tcpdump's largest (and default) snapshot length.</summary>
    public const int MaxSnaplen = 262144;
    public const int MaxNames = 64;
}
