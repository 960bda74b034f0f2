// A netlink socket that only listens: it joins rtnetlink notification groups (link changes,
// IPv4/IPv6 multicast address changes) in the network namespace it was opened in and hands the
// raw messages to its reader. Non-blocking, so a monitor thread can poll many of them.
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
    public RtnetlinkSubscription(uint[] required, uint[]? optional = null)
    {
        _fd = Sockets.Open(Sockets.AF_NETLINK, Sockets.SOCK_RAW | Sockets.SOCK_NONBLOCK, NetlinkAbi.NETLINK_ROUTE);
        try
        {
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

    public void Dispose() => _fd.Dispose();
}
