// The frontend's end of a vhost-user connection for the fuzz targets: a socketpair whose other
// end the backend serves, raw sends with SCM_RIGHTS descriptors, well-formed requests, replies
// read back, and the write side shut so the backend sees the end of the conversation.
using System.Buffers.Binary;
using System.Net.Sockets;
using Mvtap.Linux.Interop;
using Mvtap.VhostUser.Protocol;

namespace Mvtap.Fuzz.Support;

public sealed class VhostUserWire : IDisposable
{
    private readonly FileDescriptor _mine;
    private readonly Socket _socket;

    public VhostUserWire()
    {
        (_mine, BackendEnd) = UnixSocket.CreatePair();
        _socket = new Socket(new SafeSocketHandle(_mine.Fd, ownsHandle: false)) { ReceiveTimeout = 10_000 };
    }

    /// <summary>The end to hand to VhostUserNetBackend.Serve (which owns it from then on).</summary>
    public FileDescriptor BackendEnd { get; }

    public void SendRaw(ReadOnlySpan<byte> bytes, ReadOnlySpan<int> fds = default)
    {
        int sent = bytes.IsEmpty ? 0 : UnixSocket.Send(_mine, bytes, fds);
        while (sent < bytes.Length) sent += UnixSocket.Send(_mine, bytes[sent..]);
    }

    public void Send(VhostUserRequest request, ReadOnlySpan<byte> payload, bool needReply = false, ReadOnlySpan<int> fds = default)
    {
        Span<byte> buf = stackalloc byte[VhostUserHeader.Length + payload.Length];
        uint flags = VhostUserHeader.Version | (needReply ? VhostUserHeader.NeedReplyFlag : 0);
        new VhostUserHeader((uint)request, flags, (uint)payload.Length).Write(buf);
        payload.CopyTo(buf[VhostUserHeader.Length..]);
        SendRaw(buf, fds);
    }

    public void SendU64(VhostUserRequest request, ulong value, bool needReply = false)
    {
        Span<byte> p = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(p, value);
        Send(request, p, needReply);
    }

    public void SendState(VhostUserRequest request, uint index, uint num, bool needReply = false)
    {
        Span<byte> p = stackalloc byte[VringState.Length];
        new VringState(index, num).Write(p);
        Send(request, p, needReply);
    }

    /// <summary>Reads one reply; its payload (at most 8 bytes are kept) as a number.</summary>
    public ulong ReadReply(VhostUserRequest expected)
    {
        Span<byte> h = stackalloc byte[VhostUserHeader.Length];
        ReadExactly(h);
        var header = VhostUserHeader.Read(h);
        if (header.Request != (uint)expected || header.Flags != VhostUserHeader.ReplyFlags || header.Size > 8)
            throw new InvalidOperationException($"unexpected reply {header} to {expected}");
        Span<byte> p = stackalloc byte[8];
        p.Clear();
        ReadExactly(p[..(int)header.Size]);
        return BinaryPrimitives.ReadUInt64LittleEndian(p);
    }

    private void ReadExactly(Span<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            int n = _socket.Receive(buffer);
            if (n == 0) throw new InvalidOperationException("the backend closed the connection");
            buffer = buffer[n..];
        }
    }

    /// <summary>Reads and throws away whatever the backend sent until it closes its end (a reset when
    /// it closed with requests still unread, as after a protocol error).</summary>
    public void DrainUntilClosed()
    {
        Span<byte> sink = stackalloc byte[4096];
        try { while (_socket.Receive(sink) > 0) { } }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset) { }
    }

    /// <summary>No more requests: the backend reads the end of the stream after the last one.</summary>
    public void EndRequests() => _socket.Shutdown(SocketShutdown.Send);

    public void Dispose()
    {
        _socket.Dispose();
        _mine.Dispose();
    }
}
