// An AF_PACKET socket bound to one interface: the datapath's window onto a lower device or a
// veth end. Receives through a TPACKET_V3 ring or recvmmsg, sends batches with sendmmsg, and
// carries the lower's unicast filter entries for endpoint MACs (spec 4.2).
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Linux.Interop;

namespace Mvtap.Linux;

public sealed record PacketSocketOptions
{
    /// <summary>PACKET_VNET_HDR: a 10-byte virtio-net header precedes every frame both ways (checksum/GSO metadata).</summary>
    public bool VnetHeader { get; init; }
    /// <summary>PACKET_IGNORE_OUTGOING: do not see frames sent on this interface (ours or anyone's).</summary>
    public bool IgnoreOutgoing { get; init; }
    /// <summary>A TPACKET_V3 receive ring; null to receive with recvmmsg instead.</summary>
    public PacketRingGeometry? RxRing { get; init; }
    /// <summary>A TPACKET_V2 receive ring (per-frame slots, oversized frames whole on the receive queue); not with <see cref="RxRing"/>.</summary>
    public PacketFrameRingGeometry? FrameRing { get; init; }
    /// <summary>PACKET_QDISC_BYPASS: transmit straight to the driver.</summary>
    public bool QdiscBypass { get; init; }
    /// <summary>SO_SNDBUFFORCE / SO_RCVBUFFORCE in bytes when set.</summary>
    public int? SendBuffer { get; init; }
    public int? ReceiveBuffer { get; init; }
    /// <summary>The ethertype to receive (host order); ETH_P_ALL by default, 0 to receive nothing.</summary>
    public ushort Protocol { get; init; } = PacketAbi.ETH_P_ALL;
}

/// <summary>How a unicast address was admitted by the lower.</summary>
public enum UnicastFilterResult { Filtered, Promiscuous, NotAdmitted }

public sealed unsafe class PacketSocket : IDisposable
{
    private readonly FileDescriptor _fd;
    private readonly ushort _protocol; // network order, as bound
    private int _promiscFallbacks;

    public int IfIndex { get; }
    public bool VnetHeader { get; }
    public int VnetHeaderSize => VnetHeader ? PacketAbi.VirtioNetHdrSize : 0;
    public FileDescriptor Handle => _fd;
    /// <summary>The receive ring, if <see cref="PacketSocketOptions.RxRing"/> was given.</summary>
    public PacketBlockRing? Ring { get; }
    /// <summary>The per-frame receive ring, if <see cref="PacketSocketOptions.FrameRing"/> was given.</summary>
    public PacketFrameRing? FrameRing { get; }

    /// <summary>Opens a non-blocking packet socket in the calling thread's namespace, bound to <paramref name="ifIndex"/>.</summary>
    public PacketSocket(int ifIndex, PacketSocketOptions? options = null)
    {
        options ??= new PacketSocketOptions();
        IfIndex = ifIndex;
        VnetHeader = options.VnetHeader;
        ushort proto = BinaryPrimitives.ReverseEndianness(options.Protocol);
        _protocol = proto;
        // Protocol 0 at socket() time: nothing is queued before the options and the bind are in place.
        _fd = Sockets.Open(Sockets.AF_PACKET, Sockets.SOCK_RAW | Sockets.SOCK_NONBLOCK, 0);
        try
        {
            // The vnet header and version must precede the ring (the kernel answers EBUSY after).
            if (options.VnetHeader) Sockets.SetInt(_fd, PacketAbi.SOL_PACKET, PacketAbi.PACKET_VNET_HDR, 1, "setsockopt(PACKET_VNET_HDR)");
            if (options.IgnoreOutgoing) Sockets.SetInt(_fd, PacketAbi.SOL_PACKET, PacketAbi.PACKET_IGNORE_OUTGOING, 1, "setsockopt(PACKET_IGNORE_OUTGOING)");
            if (options.QdiscBypass) Sockets.SetInt(_fd, PacketAbi.SOL_PACKET, PacketAbi.PACKET_QDISC_BYPASS, 1, "setsockopt(PACKET_QDISC_BYPASS)");
            if (options.SendBuffer is int sb) Sockets.SetInt(_fd, Sockets.SOL_SOCKET, Sockets.SO_SNDBUFFORCE, sb, "setsockopt(SO_SNDBUFFORCE)");
            if (options.ReceiveBuffer is int rb) Sockets.SetInt(_fd, Sockets.SOL_SOCKET, Sockets.SO_RCVBUFFORCE, rb, "setsockopt(SO_RCVBUFFORCE)");
            if (options.RxRing is { } geometry)
            {
                Sockets.SetInt(_fd, PacketAbi.SOL_PACKET, PacketAbi.PACKET_VERSION, PacketAbi.TPACKET_V3, "setsockopt(PACKET_VERSION)");
                Ring = new PacketBlockRing(_fd, geometry, VnetHeaderSize);
            }
            else if (options.FrameRing is { } frames)
            {
                Sockets.SetInt(_fd, PacketAbi.SOL_PACKET, PacketAbi.PACKET_VERSION, PacketAbi.TPACKET_V2, "setsockopt(PACKET_VERSION)");
                FrameRing = new PacketFrameRing(_fd, frames, VnetHeaderSize);
            }
            SockaddrLl addr = new() { Family = Sockets.AF_PACKET, Protocol = proto, IfIndex = ifIndex };
            Libc.Check(Sockets.bind(_fd.Fd, &addr, (uint)sizeof(SockaddrLl)), $"bind(AF_PACKET, ifindex {ifIndex})");
        }
        catch
        {
            Ring?.Dispose();
            FrameRing?.Dispose();
            _fd.Dispose();
            throw;
        }
    }

    /// <summary>Binds the socket to its interface again: the kernel unbinds it (and drops its memberships)
    /// when the interface leaves the namespace, and does not bind it again when it comes back.</summary>
    public void Rebind()
    {
        SockaddrLl addr = new() { Family = Sockets.AF_PACKET, Protocol = _protocol, IfIndex = IfIndex };
        Libc.Check(Sockets.bind(_fd.Fd, &addr, (uint)sizeof(SockaddrLl)), $"bind(AF_PACKET, ifindex {IfIndex})");
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> for something to receive.</summary>
    public bool WaitReadable(int timeoutMs)
    {
        if (Ring is { HasFrame: true } || FrameRing is { HasFrame: true }) return true;
        return (Sockets.Poll(_fd.Fd, Sockets.POLLIN, timeoutMs) & Sockets.POLLIN) != 0;
    }

    /// <summary>Receives up to a batch of frames with one recvmmsg; 0 if none is waiting. Not for ring sockets.</summary>
    public int ReceiveBatch(SocketFrameBatch batch)
    {
        if (Ring is not null) throw new InvalidOperationException("this socket receives through its ring: use Ring.TryReceive");
        int n = Sockets.recvmmsg(_fd.Fd, batch.PrepareReceive(), (uint)batch.Capacity, Sockets.MSG_DONTWAIT, null);
        if (n < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is Sockets.EAGAIN or Sockets.EINTR) { batch.Count = 0; return 0; }
            throw new SystemCallException("recvmmsg(AF_PACKET)", errno);
        }
        batch.CompleteReceive(n);
        return n;
    }

    /// <summary>
    /// Sends frames <paramref name="start"/>.. of the batch with one sendmmsg and returns how many
    /// the kernel took (fewer when its buffer is full; 0 on EAGAIN). With a vnet header each frame starts with one.
    /// </summary>
    public int SendBatch(SocketFrameBatch batch, int start = 0)
    {
        int count = batch.Count - start;
        if (count <= 0) return 0;
        int n = Sockets.sendmmsg(_fd.Fd, batch.PrepareSend(start, count), (uint)count, Sockets.MSG_DONTWAIT);
        if (n < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is Sockets.EAGAIN or Sockets.EINTR or (int)Errno.ENOBUFS) return 0;
            throw new SystemCallException("sendmmsg(AF_PACKET)", errno);
        }
        return n;
    }

    /// <summary>Sends one frame; false if the socket buffer is full.</summary>
    public bool Send(ReadOnlySpan<byte> frame)
    {
        fixed (byte* p = frame)
        {
            nint n = Sockets.sendto(_fd.Fd, p, (nuint)frame.Length, Sockets.MSG_DONTWAIT, null, 0);
            if (n >= 0) return true;
            int errno = Marshal.GetLastPInvokeError();
            if (errno is Sockets.EAGAIN or (int)Errno.ENOBUFS) return false;
            throw new SystemCallException("send(AF_PACKET)", errno);
        }
    }

    /// <summary>
    /// Adds <paramref name="mac"/> to the interface's unicast filter for as long as this socket lives
    /// (the kernel itself turns on promiscuity if the device has no unicast filter). If even that is
    /// refused, falls back to promiscuous mode unless <paramref name="allowPromiscuous"/> is false (nopromisc).
    /// </summary>
    public UnicastFilterResult AddUnicast(MacAddress mac, bool allowPromiscuous = true)
    {
        if (TryMembership(PacketAbi.PACKET_ADD_MEMBERSHIP, PacketAbi.PACKET_MR_UNICAST, mac, out _)) return UnicastFilterResult.Filtered;
        if (!allowPromiscuous) return UnicastFilterResult.NotAdmitted;
        Membership(PacketAbi.PACKET_ADD_MEMBERSHIP, PacketAbi.PACKET_MR_PROMISC, default, "PACKET_MR_PROMISC");
        _promiscFallbacks++;
        return UnicastFilterResult.Promiscuous;
    }

    /// <summary>Undoes one <see cref="AddUnicast"/> with the result it returned.</summary>
    public void DropUnicast(MacAddress mac, UnicastFilterResult how)
    {
        switch (how)
        {
            case UnicastFilterResult.Filtered:
                Membership(PacketAbi.PACKET_DROP_MEMBERSHIP, PacketAbi.PACKET_MR_UNICAST, mac, "drop PACKET_MR_UNICAST");
                break;
            case UnicastFilterResult.Promiscuous when _promiscFallbacks > 0:
                Membership(PacketAbi.PACKET_DROP_MEMBERSHIP, PacketAbi.PACKET_MR_PROMISC, default, "drop PACKET_MR_PROMISC");
                _promiscFallbacks--;
                break;
        }
    }

    public void AddMulticast(MacAddress mac) => Membership(PacketAbi.PACKET_ADD_MEMBERSHIP, PacketAbi.PACKET_MR_MULTICAST, mac, "PACKET_MR_MULTICAST");
    public void DropMulticast(MacAddress mac) => Membership(PacketAbi.PACKET_DROP_MEMBERSHIP, PacketAbi.PACKET_MR_MULTICAST, mac, "drop PACKET_MR_MULTICAST");

    /// <summary>Holds (or releases) one promiscuity reference on the interface; the kernel drops it when the socket closes.</summary>
    public void SetPromiscuous(bool on) =>
        Membership(on ? PacketAbi.PACKET_ADD_MEMBERSHIP : PacketAbi.PACKET_DROP_MEMBERSHIP, PacketAbi.PACKET_MR_PROMISC, default, "PACKET_MR_PROMISC");

    public void SetAllmulti(bool on) =>
        Membership(on ? PacketAbi.PACKET_ADD_MEMBERSHIP : PacketAbi.PACKET_DROP_MEMBERSHIP, PacketAbi.PACKET_MR_ALLMULTI, default, "PACKET_MR_ALLMULTI");

    /// <summary>PACKET_STATISTICS since the last call: frames seen and dropped (ring full).</summary>
    public (uint Packets, uint Drops) ReadStatistics()
    {
        TpacketStatsV3 stats = default;
        uint len = (uint)sizeof(TpacketStatsV3);
        Libc.Check(Sockets.getsockopt(_fd.Fd, PacketAbi.SOL_PACKET, PacketAbi.PACKET_STATISTICS, &stats, &len), "getsockopt(PACKET_STATISTICS)");
        return (stats.Packets, stats.Drops);
    }

    private void Membership(int op, ushort type, MacAddress mac, string what)
    {
        if (!TryMembership(op, type, mac, out int errno)) throw new SystemCallException($"setsockopt({what})", errno);
    }

    private bool TryMembership(int op, ushort type, MacAddress mac, out int errno)
    {
        PacketMreq mreq = new() { IfIndex = IfIndex, Type = type };
        if (type is PacketAbi.PACKET_MR_UNICAST or PacketAbi.PACKET_MR_MULTICAST)
        {
            mreq.AddressLength = 6;
            mac.Write(new Span<byte>(mreq.Address, 6));
        }
        int r = Sockets.setsockopt(_fd.Fd, PacketAbi.SOL_PACKET, op, &mreq, (uint)sizeof(PacketMreq));
        errno = r < 0 ? Marshal.GetLastPInvokeError() : 0;
        return r == 0;
    }

    public void Dispose()
    {
        Ring?.Dispose();
        FrameRing?.Dispose();
        _fd.Dispose();
    }
}
