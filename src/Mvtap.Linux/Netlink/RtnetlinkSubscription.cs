// A netlink socket that only listens: it joins rtnetlink notification groups (link changes,
// IPv4/IPv6 multicast address changes) in the network namespace it was opened in and hands the
// raw messages to its reader. Non-blocking, so a monitor thread can poll many of them. Opened to
// listen to every namespace (NETLINK_LISTEN_ALL_NSID), it also hears each namespace its own has a
// netnsid for, and tells which one a datagram came from, without holding any of them alive.
using System.Runtime.InteropServices;
using Mvtap.Linux.Interop;

namespace Mvtap.Linux.Netlink;

public sealed unsafe class RtnetlinkSubscription : IDisposable
{
    // enum rtnetlink_groups (include/uapi/linux/rtnetlink.h, 6.18)
    public const uint RTNLGRP_LINK = 1;
    /// <summary>RTM_NEWMULTICAST/RTM_DELMULTICAST for IPv4 group joins (Linux 6.13+).</summary>
    public const uint RTNLGRP_IPV4_MCADDR = 37;
    /// <summary>The same for IPv6 (Linux 6.13+).</summary>
    public const uint RTNLGRP_IPV6_MCADDR = 38;
    private const int NETLINK_ADD_MEMBERSHIP = 1;

    private readonly FileDescriptor _fd;

    /// <summary>Opens the socket in the calling thread's namespace and joins <paramref name="required"/>
    /// (failure throws) and <paramref name="optional"/> (groups an older kernel may not have: skipped).</summary>
    /// <param name="allNamespaces">hear every namespace the calling thread's has a netnsid for (NETLINK_LISTEN_ALL_NSID, root only).</param>
    /// <param name="receiveBuffer">the socket's receive buffer in bytes (0: the system's default); a larger one loses fewer notifications in a burst.</param>
    public RtnetlinkSubscription(uint[] required, uint[]? optional = null, bool allNamespaces = false, int receiveBuffer = 0)
    {
        _fd = Sockets.Open(Sockets.AF_NETLINK, Sockets.SOCK_RAW | Sockets.SOCK_NONBLOCK, NetlinkAbi.NETLINK_ROUTE);
        try
        {
            if (receiveBuffer > 0)
                Sockets.SetInt(_fd, Sockets.SOL_SOCKET, Sockets.SO_RCVBUFFORCE, receiveBuffer, "setsockopt(SO_RCVBUFFORCE)");
            if (allNamespaces)
                Sockets.SetInt(_fd, NetlinkAbi.SOL_NETLINK, NetlinkAbi.NETLINK_LISTEN_ALL_NSID, 1, "setsockopt(NETLINK_LISTEN_ALL_NSID)");
            SockaddrNl local = new() { Family = Sockets.AF_NETLINK };
            Libc.Check(Sockets.bind(_fd.Fd, &local, (uint)sizeof(SockaddrNl)), "bind(netlink)");
            foreach (var g in required)
                Sockets.SetInt(_fd, NetlinkAbi.SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, (int)g, $"setsockopt(NETLINK_ADD_MEMBERSHIP {g})");
            foreach (var g in optional ?? [])
            {
                int group = (int)g;
                _ = Sockets.setsockopt(_fd.Fd, NetlinkAbi.SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(int));
            }
        }
        catch
        {
            _fd.Dispose();
            throw;
        }
    }

    public int Fd => _fd.Fd;

    /// <summary>Reads one datagram of notifications without waiting: its length, 0 when none is
    /// queued, -1 when notifications were lost (ENOBUFS after an overflow, or any other receive
    /// error): the reader must then re-read the state it follows. Never throws, so a monitor
    /// thread cannot be brought down by its socket.</summary>
    public int Receive(Span<byte> buffer)
    {
        nint n;
        fixed (byte* p = buffer) n = Sockets.recvfrom(_fd.Fd, p, (nuint)buffer.Length, Sockets.MSG_DONTWAIT, null, null);
        if (n >= 0) return (int)n;
        int errno = Marshal.GetLastPInvokeError();
        return errno is Sockets.EAGAIN or Sockets.EINTR ? 0 : -1;
    }

    /// <summary>As <see cref="Receive(Span{byte})"/>, and the netnsid of the namespace the datagram came from
    /// (<paramref name="nsid"/>: -1 for the socket's own namespace, or when the kernel attached none).</summary>
    public int Receive(Span<byte> buffer, out int nsid)
    {
        nsid = -1;
        // struct cmsghdr (len: size_t, level, type: int) then the id; room for a few
        byte* control = stackalloc byte[64];
        fixed (byte* p = buffer)
        {
            IoVec iov = new() { Base = (nint)p, Length = (nuint)buffer.Length };
            MsgHdr msg = new() { Iov = (nint)(&iov), IovLength = 1, Control = (nint)control, ControlLength = 64 };
            nint n = Sockets.recvmsg(_fd.Fd, &msg, Sockets.MSG_DONTWAIT);
            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                return errno is Sockets.EAGAIN or Sockets.EINTR ? 0 : -1;
            }
            nsid = ListenAllNsid(new ReadOnlySpan<byte>(control, (int)Math.Min(msg.ControlLength, 64)));
            return (int)n;
        }
    }

    /// <summary>The netnsid in a NETLINK_LISTEN_ALL_NSID control message, or -1; bounds-checked.</summary>
    internal static int ListenAllNsid(ReadOnlySpan<byte> control)
    {
        int offset = 0;
        while (offset + 16 <= control.Length)
        {
            long len = BitConverter.ToInt64(control[offset..]);
            int level = BitConverter.ToInt32(control[(offset + 8)..]);
            int type = BitConverter.ToInt32(control[(offset + 12)..]);
            if (len < 16 || len > control.Length - offset) return -1;
            if (level == NetlinkAbi.SOL_NETLINK && type == NetlinkAbi.NETLINK_LISTEN_ALL_NSID && len >= 20)
                return BitConverter.ToInt32(control[(offset + 16)..]);
            offset += (int)((len + 7) & ~7L);
        }
        return -1;
    }

    public void Dispose() => _fd.Dispose();
}
