// A minimal vhost-user frontend (the role QEMU or virtio-user plays): sends requests with
// SCM_RIGHTS descriptors, reads replies with a bounded wait, and knows the usual start-up
// sequence. Also sends raw bytes, for the hostile-message tests.
using System.Buffers.Binary;
using System.Net.Sockets;
using Mvtap.Linux.Interop;
using Mvtap.VhostUser.Net;
using Mvtap.VhostUser.Protocol;

namespace Mvtap.VhostUser.Tests.Frontend;

public sealed class TestFrontend : IDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private readonly Socket _socket;
    private readonly FileDescriptor _fd;

    public TestFrontend(Socket socket)
    {
        _socket = socket;
        _socket.ReceiveTimeout = (int)Timeout.TotalMilliseconds;
        _fd = new FileDescriptor((int)socket.Handle, ownsHandle: false);
    }

    /// <summary>Connects to a backend listening on <paramref name="path"/>.</summary>
    public static TestFrontend Connect(string path)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(path));
        return new TestFrontend(s);
    }

    /// <summary>When set, every request carries NEED_REPLY and waits for its ack (needs the
    /// REPLY_ACK protocol feature), which also makes the sequence synchronous.</summary>
    public bool ReplyAck { get; set; }

    public void SendRaw(ReadOnlySpan<byte> bytes, ReadOnlySpan<int> fds = default)
    {
        int sent = UnixSocket.Send(_fd, bytes, fds);
        if (sent < bytes.Length) UnixSocket.Send(_fd, bytes[sent..]);
    }

    public void Send(VhostUserRequest request, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds = default, bool needReply = false)
    {
        var buf = new byte[VhostUserHeader.Length + payload.Length];
        uint flags = VhostUserHeader.Version | (needReply ? VhostUserHeader.NeedReplyFlag : 0);
        new VhostUserHeader((uint)request, flags, (uint)payload.Length).Write(buf);
        payload.CopyTo(buf.AsSpan(VhostUserHeader.Length));
        SendRaw(buf, fds);
    }

    /// <summary>Reads one reply and checks the framing QEMU insists on (flags == 0x5).</summary>
    public (VhostUserHeader Header, byte[] Payload) ReadReply()
    {
        var h = new byte[VhostUserHeader.Length];
        ReadExactly(h);
        var header = VhostUserHeader.Read(h);
        Assert.Equal(VhostUserHeader.ReplyFlags, header.Flags);
        Assert.True(header.Size <= VhostUserHeader.MaxPayload);
        var payload = new byte[header.Size];
        ReadExactly(payload);
        return (header, payload);
    }

    private void ReadExactly(byte[] buffer)
    {
        int got = 0;
        while (got < buffer.Length)
        {
            int n = _socket.Receive(buffer, got, buffer.Length - got, SocketFlags.None);
            if (n == 0) throw new IOException("backend closed the connection");
            got += n;
        }
    }

    /// <summary>Sends a request with no payload-specific reply; returns the ack (0 = success)
    /// when <see cref="ReplyAck"/> is on, else 0.</summary>
    public ulong Request(VhostUserRequest request, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds = default)
    {
        Send(request, payload, fds, ReplyAck);
        if (!ReplyAck) return 0;
        var (header, reply) = ReadReply();
        Assert.Equal((uint)request, header.Request);
        Assert.Equal(8, reply.Length);
        return BinaryPrimitives.ReadUInt64LittleEndian(reply);
    }

    public ulong GetU64(VhostUserRequest request)
    {
        Send(request, []);
        var (header, reply) = ReadReply();
        Assert.Equal((uint)request, header.Request);
        Assert.Equal(8, reply.Length);
        return BinaryPrimitives.ReadUInt64LittleEndian(reply);
    }

    public ulong SetU64(VhostUserRequest request, ulong value, ReadOnlySpan<int> fds = default)
    {
        Span<byte> p = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(p, value);
        return Request(request, p, fds);
    }

    public ulong SetState(VhostUserRequest request, uint index, uint num)
    {
        Span<byte> p = stackalloc byte[8];
        new VringState(index, num).Write(p);
        return Request(request, p);
    }

    /// <summary>A round trip that proves every earlier message was handled (QEMU uses
    /// GET_FEATURES the same way).</summary>
    public void Sync() => GetU64(VhostUserRequest.GetFeatures);

    /// <summary>What QEMU does for a one-queue-pair guest: negotiates merged receive buffers, shares
    /// <paramref name="m"/> and starts both rings.</summary>
    public void StartQueuePair(TestGuestMemory m, TestVring rx, TestVring tx)
    {
        Negotiate(VirtioNetFeatures.Version1 | VirtioNetFeatures.ProtocolFeatures | VirtioNetFeatures.MrgRxbuf);
        SetMemTable(m);
        StartVring(rx);
        StartVring(tx);
    }

    /// <summary>The start-up of spec 3.2: features, protocol features, owner.</summary>
    public void Negotiate(ulong features, ulong protocol = VhostUserProtocolFeatures.Offered)
    {
        ulong offered = GetU64(VhostUserRequest.GetFeatures);
        Assert.Equal(features, features & offered);
        if ((features & VirtioNetFeatures.ProtocolFeatures) != 0)
        {
            ulong proto = GetU64(VhostUserRequest.GetProtocolFeatures);
            SetU64(VhostUserRequest.SetProtocolFeatures, proto & protocol);
            ReplyAck = (proto & protocol & VhostUserProtocolFeatures.ReplyAck) != 0;
        }
        Assert.Equal(0UL, Request(VhostUserRequest.SetOwner, []));
        Assert.Equal(0UL, SetU64(VhostUserRequest.SetFeatures, features));
    }

    public ulong SetMemTable(TestGuestMemory memory) => SetMemTable(memory.Regions, memory.Fd);

    public ulong SetMemTable(MemoryRegionDescriptor[] regions, FileDescriptor fd)
    {
        var fds = new int[regions.Length];
        Array.Fill(fds, fd.Fd);
        return Request(VhostUserRequest.SetMemTable, MemTablePayload(regions), fds);
    }

    /// <summary>The SET_MEM_TABLE payload for <paramref name="regions"/>.</summary>
    public static byte[] MemTablePayload(MemoryRegionDescriptor[] regions)
    {
        var p = new byte[VhostUserPayload.MemoryTableHeader + regions.Length * MemoryRegionDescriptor.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(p, (uint)regions.Length);
        for (int i = 0; i < regions.Length; i++)
            regions[i].Write(p.AsSpan(VhostUserPayload.MemoryTableHeader + i * MemoryRegionDescriptor.Length));
        return p;
    }

    public ulong SetVringAddr(VringAddress address)
    {
        Span<byte> p = stackalloc byte[VringAddress.Length];
        address.Write(p);
        return Request(VhostUserRequest.SetVringAddr, p);
    }

    /// <summary>NUM, BASE, ADDR, KICK, CALL, then ENABLE: the order QEMU uses.</summary>
    public void StartVring(TestVring v, ushort lastAvail = 0, bool enable = true)
    {
        Assert.Equal(0UL, SetState(VhostUserRequest.SetVringNum, (uint)v.Index, (uint)v.Size));
        Assert.Equal(0UL, SetState(VhostUserRequest.SetVringBase, (uint)v.Index, lastAvail));
        Assert.Equal(0UL, SetVringAddr(v.Address));
        Assert.Equal(0UL, SetU64(VhostUserRequest.SetVringKick, (ulong)v.Index, [v.KickFd.Fd]));
        Assert.Equal(0UL, SetU64(VhostUserRequest.SetVringCall, (ulong)v.Index, [v.CallFd.Fd]));
        if (enable) Assert.Equal(0UL, SetState(VhostUserRequest.SetVringEnable, (uint)v.Index, 1));
        Sync();
        v.WaitForCalls(); // the backend pokes a new call fd once
    }

    public VringState GetVringBase(int index)
    {
        Span<byte> p = stackalloc byte[8];
        new VringState((uint)index, 0).Write(p);
        Send(VhostUserRequest.GetVringBase, p);
        var (header, reply) = ReadReply();
        Assert.Equal((uint)VhostUserRequest.GetVringBase, header.Request);
        return VringState.Read(reply);
    }

    /// <summary>Waits (bounded) until the backend closes the connection; true if it did.</summary>
    public bool WaitForClose()
    {
        var buf = new byte[64];
        try
        {
            while (true)
                if (_socket.Receive(buf) == 0) return true;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
        {
            return false;
        }
    }

    /// <summary>Closes our sending side: the backend reads end-of-stream.</summary>
    public void ShutdownSend() => _socket.Shutdown(SocketShutdown.Send);

    public void Dispose()
    {
        _fd.Dispose();
        _socket.Dispose();
    }
}
