// The virtio-net header as it arrives with a frame (10 or 12 bytes, either byte order), the
// kernel's acceptance checks (IsValidFor, VirtioNetOffloads' feature rules) and software GSO
// (GsoLayout, GsoSegmenter) into a checking sink, plus completing a partial checksum. Input:
// one control byte (bit 0 big-endian header, bit 1 keep partial checksums, bit 2 12-byte
// header, bits 3-7 the sink's segment cap), 8 bytes of negotiated features, the header, the frame.
using System.Buffers.Binary;
using Mvtap.Core.Frames;
using Mvtap.Fuzz.Support;
using Mvtap.VhostUser.Net;

namespace Mvtap.Fuzz.Targets;

public static class VnetGsoTarget
{
    private static readonly SegmentChecks Checks = new();
    private static readonly byte[] Copy = new byte[Program.MaxInput];

    public static void Run(ReadOnlySpan<byte> data)
    {
        var input = new FuzzInput(data);
        byte control = input.Byte();
        bool bigEndian = (control & 1) != 0, keepPartial = (control & 2) != 0;
        int headerLength = (control & 4) != 0 ? VirtioNetHeader.SizeWithBuffers : VirtioNetHeader.Size;
        int cap = (control >> 3) == 31 ? int.MaxValue : (control >> 3) * 48;
        Span<byte> features = stackalloc byte[8];
        features.Clear();
        input.Take(8).CopyTo(features);
        Span<byte> raw = stackalloc byte[VirtioNetHeader.SizeWithBuffers];
        raw.Clear();
        input.Take(headerLength).CopyTo(raw);
        var frame = input.Rest();

        var vnet = VirtioNetHeader.Read(raw[..headerLength], bigEndian);
        bool valid = vnet.IsValidFor(frame);

        // the vhost-user backend's view of the same header under the guest's features
        ulong acked = BinaryPrimitives.ReadUInt64LittleEndian(features);
        VirtioNetOffloads.IsAllowedFromGuest(raw, acked);
        VirtioNetOffloads.PrepareForGuest(raw, acked);

        var verdict = GsoLayout.TryRead(frame, vnet, GsoSegmenter.MaxSegments, out var layout);
        if (verdict == GsoVerdict.Segmented && !valid) throw new InvalidOperationException("a layout for a header IsValidFor refuses");
        Checks.Reset(cap);
        var sink = new CheckingSegmentSink(Checks);
        var result = GsoSegmenter.Segment(frame, vnet, keepPartial, ref sink, out int segments, out int written);
        if (written != Checks.Committed) throw new InvalidOperationException($"segmenter says {written} written, the sink took {Checks.Committed}");
        if (result == GsoVerdict.Segmented)
        {
            if (written != segments) throw new InvalidOperationException($"{segments} segments but {written} written");
            if (verdict != GsoVerdict.Segmented) throw new InvalidOperationException($"segmented a frame whose layout is {verdict}");
            long expected = layout.IsIpFragmentation
                ? (long)layout.Transport * segments + (frame.Length - layout.Transport)
                : (long)layout.PayloadStart * segments + layout.PayloadLength;
            if (Checks.PayloadBytes != expected)
                throw new InvalidOperationException($"segments hold {Checks.PayloadBytes} bytes, expected {expected}");
        }
        else if (result != GsoVerdict.SinkFull && written != 0)
            throw new InvalidOperationException($"verdict {result} after writing {written} segments");

        if (vnet.NeedsCsum)
        {
            var copy = Copy.AsSpan(0, frame.Length);
            frame.CopyTo(copy);
            PartialChecksum.Complete(copy, vnet.CsumStart, vnet.CsumOffset);
        }
    }
}
