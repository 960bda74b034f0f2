// QEMU `-netdev stream` framing (a 4-byte big-endian length, then the frame) into a real
// StreamAttachment listening on a socket in a private directory, as its datapath thread drives
// it: accept, read batches, take the frames, echo them back to the client. Input: one byte
// choosing how the client cuts its writes ((b + 1) * 61 bytes a write, so frames and prefixes
// arrive split), then the byte stream the client sends. Every frame the attachment hands on
// must be exactly the next one the stream holds (checked by walking the stream here); a length
// outside 14..65535 must close the connection after the frames before it.
using System.Buffers.Binary;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Datapath;
using Mvtap.Linux;
using Mvtap.Linux.Interop;

namespace Mvtap.Fuzz.Targets;

public static class StreamFramingTarget
{
    private static readonly SocketFrameBatch Scratch = new(1, 64);
    private static StreamAttachment? _attachment;

    private static StreamAttachment Attachment => _attachment ??= Listen();

    private static StreamAttachment Listen()
    {
        var dir = Directory.CreateTempSubdirectory("mvtap-fuzz-stream-").FullName;
        var port = new Port(new LowerDevice("fuzz0", new MacAddress(0x020000000001UL)));
        var ep = port.Create(new EndpointSettings { Name = "tap0", Mac = new MacAddress(0x020000000010UL) });
        var attachment = StreamAttachment.Listen(ep, Path.Combine(dir, "tap0.stream"), -1, -1, new GuestClaim(), 1);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            attachment.Dispose();
            Directory.Delete(dir, recursive: true);
        };
        return attachment;
    }

    public static void Run(ReadOnlySpan<byte> data)
    {
        var input = new FuzzInput(data);
        int cut = (input.Byte() + 1) * 61;
        var stream = input.Rest();
        var attachment = Attachment;
        using var client = UnixSocket.Create();
        if (UnixSocket.Connect(client, attachment.SocketPath) != 0) throw new InvalidOperationException("cannot connect");
        attachment.ReceiveBatch(0, Scratch);
        if (!attachment.IsConnected) throw new InvalidOperationException("the client was not accepted");

        int expected = 0; // where the next frame's prefix starts in the stream
        int sent = 0;
        bool closed = false;
        while (!closed && (sent < stream.Length || attachment.ReceivePending))
        {
            if (sent < stream.Length)
            {
                int n = Math.Min(cut, stream.Length - sent);
                try { sent += UnixSocket.Send(client, stream.Slice(sent, n)); }
                catch (SystemCallException) { break; } // closed by the attachment
            }
            while (true)
            {
                int count = attachment.ReceiveBatch(1, Scratch);
                for (int i = 0; i < count; i++) expected = Check(attachment, i, stream, expected);
                if (count > 0) Echo(attachment, count);
                if (!attachment.IsConnected) { closed = true; break; }
                if (count == 0 && !attachment.ReceivePending) break;
            }
        }
        if (closed && !BadLengthAt(stream, expected)) throw new InvalidOperationException($"closed with a good frame at {expected}");
        if (!closed && BadLengthAt(stream[..sent], expected)) throw new InvalidOperationException($"a bad length at {expected} was accepted");
        client.Dispose();
        attachment.ReceiveBatch(1, Scratch); // reads the end of the stream and closes
        if (attachment.IsConnected) throw new InvalidOperationException("still connected after the client left");
    }

    private static int Check(StreamAttachment attachment, int i, ReadOnlySpan<byte> stream, int at)
    {
        attachment.GetFrame(i, Scratch, out var frame, out var vnet);
        if (vnet.IsGso || vnet.Flags != 0) throw new InvalidOperationException("a stream frame with a virtio-net header");
        if (at + 4 > stream.Length) throw new InvalidOperationException($"a frame beyond the stream's {stream.Length} bytes");
        int length = (int)BinaryPrimitives.ReadUInt32BigEndian(stream[at..]);
        if (frame.Length != length || at + 4 + length > stream.Length || !frame.SequenceEqual(stream.Slice(at + 4, length)))
            throw new InvalidOperationException($"frame {i} is not the stream's frame at {at}");
        return at + 4 + length;
    }

    private static bool BadLengthAt(ReadOnlySpan<byte> stream, int at) =>
        at + 4 <= stream.Length && BinaryPrimitives.ReadUInt32BigEndian(stream[at..]) is < 14 or > 65535;

    // what the datapath does with a guest's frames that come back to it: deliver, then flush once
    private static void Echo(StreamAttachment attachment, int count)
    {
        for (int i = 0; i < count; i++)
        {
            attachment.GetFrame(i, Scratch, out var frame, out _);
            attachment.Deliver(new VnetFrame(frame));
        }
        attachment.Flush();
    }
}
