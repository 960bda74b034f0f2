// Length-prefixed frames on the control socket: a 4-byte big-endian payload length, then that
// many bytes of UTF-8 JSON. Frames above MaxFrameSize are refused before anything is read or
// sent, so a peer cannot make the other side allocate without bound; a frame cut short is an
// error, never a hang (the caller's socket timeout bounds the wait for missing bytes).
using System.Buffers.Binary;

namespace Mvtap.Control;

public static class ControlFraming
{
    /// <summary>Largest payload either side accepts: 1 MiB.</summary>
    public const int MaxFrameSize = 1 << 20;

    public const int HeaderSize = 4;

    public static void WriteFrame(Stream stream, ReadOnlySpan<byte> payload, int maxFrameSize = MaxFrameSize)
    {
        CheckOutgoing(payload.Length, maxFrameSize);
        Span<byte> header = stackalloc byte[HeaderSize];
        BinaryPrimitives.WriteUInt32BigEndian(header, (uint)payload.Length);
        stream.Write(header);
        stream.Write(payload);
        stream.Flush();
    }

    public static async Task WriteFrameAsync(Stream stream, ReadOnlyMemory<byte> payload, CancellationToken ct,
        int maxFrameSize = MaxFrameSize)
    {
        CheckOutgoing(payload.Length, maxFrameSize);
        var header = new byte[HeaderSize];
        BinaryPrimitives.WriteUInt32BigEndian(header, (uint)payload.Length);
        await stream.WriteAsync(header, ct).ConfigureAwait(false);
        await stream.WriteAsync(payload, ct).ConfigureAwait(false);
        await stream.FlushAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Reads one frame. Returns null on a clean end of stream before any header byte;
    /// throws ControlProtocolException for an oversized or truncated frame.</summary>
    public static byte[]? ReadFrame(Stream stream, int maxFrameSize = MaxFrameSize)
    {
        var header = new byte[HeaderSize];
        int got = ReadFully(stream, header);
        if (got == 0) return null;
        if (got < HeaderSize) throw Truncated("header", HeaderSize, got);
        var payload = new byte[CheckIncoming(header, maxFrameSize)];
        got = ReadFully(stream, payload);
        if (got < payload.Length) throw Truncated("payload", payload.Length, got);
        return payload;
    }

    public static async Task<byte[]?> ReadFrameAsync(Stream stream, CancellationToken ct, int maxFrameSize = MaxFrameSize)
    {
        var header = new byte[HeaderSize];
        int got = await ReadFullyAsync(stream, header, ct).ConfigureAwait(false);
        if (got == 0) return null;
        if (got < HeaderSize) throw Truncated("header", HeaderSize, got);
        var payload = new byte[CheckIncoming(header, maxFrameSize)];
        got = await ReadFullyAsync(stream, payload, ct).ConfigureAwait(false);
        if (got < payload.Length) throw Truncated("payload", payload.Length, got);
        return payload;
    }

    private static void CheckOutgoing(int length, int max)
    {
        if (length > max)
            throw new ControlProtocolException($"control frame of {length} bytes exceeds the maximum of {max} bytes");
    }

    private static int CheckIncoming(ReadOnlySpan<byte> header, int max)
    {
        uint length = BinaryPrimitives.ReadUInt32BigEndian(header);
        if (length > (uint)max)
            throw new ControlProtocolException($"control frame of {length} bytes exceeds the maximum of {max} bytes");
        return (int)length;
    }

    private static ControlProtocolException Truncated(string part, int expected, int got) =>
        new($"truncated control frame: {part} has {got} of {expected} bytes");

    private static int ReadFully(Stream stream, byte[] buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = stream.Read(buffer, total, buffer.Length - total);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    private static async Task<int> ReadFullyAsync(Stream stream, byte[] buffer, CancellationToken ct)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = await stream.ReadAsync(buffer.AsMemory(total), ct).ConfigureAwait(false);
            if (n == 0) break;
            total += n;
        }
        return total;
    }
}
