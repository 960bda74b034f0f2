// Reads requests (header + payload + SCM_RIGHTS descriptors) from a connected AF_UNIX stream
// socket and writes replies. Framing errors (truncated header or payload, oversized message,
// too many descriptors) throw VhostUserProtocolException: the stream cannot be trusted after.
using System.Buffers.Binary;
using Mvtap.Linux.Interop;

namespace Mvtap.VhostUser.Protocol;

public sealed class VhostUserConnection(FileDescriptor socket) : IDisposable
{
    private readonly byte[] _header = new byte[VhostUserHeader.Length];
    private readonly byte[] _payload = new byte[VhostUserHeader.MaxPayload];
    private readonly byte[] _reply = new byte[VhostUserHeader.Length + VhostUserHeader.MaxPayload];
    private readonly List<FileDescriptor> _fds = new(VhostUserPayload.MaxMemoryRegions);

    public FileDescriptor Socket { get; } = socket;

    /// <summary>Reads the next request into <paramref name="message"/>. Returns false when the
    /// peer closed the connection cleanly between messages.</summary>
    public bool Read(VhostUserMessage message)
    {
        _fds.Clear();
        try
        {
            int got = 0;
            bool truncated = false;
            while (got < VhostUserHeader.Length)
            {
                // Descriptors travel with the header's first byte; take them on every read anyway
                // so that none is ever left unowned.
                int n = UnixSocket.Receive(Socket, _header.AsSpan(got), _fds, VhostUserPayload.MaxMemoryRegions, out bool t);
                truncated |= t;
                if (n == 0)
                {
                    if (got == 0 && _fds.Count == 0) return false;
                    throw new VhostUserProtocolException($"connection closed inside a message header ({got} of {VhostUserHeader.Length} bytes)");
                }
                got += n;
            }
            if (truncated) throw new VhostUserProtocolException($"more than {VhostUserPayload.MaxMemoryRegions} descriptors attached to one message");

            var header = VhostUserHeader.Read(_header);
            if (header.Size > VhostUserHeader.MaxPayload)
                throw new VhostUserProtocolException($"request {header.Request}: payload size {header.Size} exceeds {VhostUserHeader.MaxPayload}");

            got = 0;
            int fdsWithHeader = _fds.Count;
            while (got < header.Size)
            {
                int n = UnixSocket.Receive(Socket, _payload.AsSpan(got, (int)header.Size - got), _fds, VhostUserPayload.MaxMemoryRegions, out bool t);
                if (t || _fds.Count != fdsWithHeader) throw new VhostUserProtocolException("descriptors attached to the middle of a payload");
                if (n == 0) throw new VhostUserProtocolException($"connection closed inside a payload ({got} of {header.Size} bytes)");
                got += n;
            }
            message.Set(header, _payload, _fds);
            return true;
        }
        catch
        {
            foreach (var fd in _fds) fd.Dispose();
            _fds.Clear();
            throw;
        }
    }

    /// <summary>Sends a reply to <paramref name="request"/>: flags exactly 0x5, header and payload
    /// in one sendmsg as QEMU and DPDK expect.</summary>
    public void Reply(VhostUserRequest request, ReadOnlySpan<byte> payload)
    {
        new VhostUserHeader((uint)request, VhostUserHeader.ReplyFlags, (uint)payload.Length).Write(_reply);
        payload.CopyTo(_reply.AsSpan(VhostUserHeader.Length));
        SendAll(_reply.AsSpan(0, VhostUserHeader.Length + payload.Length));
    }

    public void ReplyU64(VhostUserRequest request, ulong value)
    {
        Span<byte> p = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(p, value);
        Reply(request, p);
    }

    private void SendAll(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            int n = UnixSocket.Send(Socket, data);
            data = data[n..];
        }
    }

    public void Dispose() => Socket.Dispose();
}
