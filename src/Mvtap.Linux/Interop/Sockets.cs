// socket(2) family: socket, bind, socket options, single and batched send/receive, poll.
// Shared by AF_PACKET and netlink; the structs here are the x86_64/aarch64 LP64 layouts.
using System.Runtime.InteropServices;
using Mvtap.Core.Model;

namespace Mvtap.Linux.Interop;

[StructLayout(LayoutKind.Sequential)]
public struct IoVec
{
    public nint Base;
    public nuint Length;
}

/// <summary>struct msghdr (56 bytes on LP64).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct MsgHdr
{
    public nint Name;
    public uint NameLength;
    public nint Iov;
    public nuint IovLength;
    public nint Control;
    public nuint ControlLength;
    public int Flags;
}

/// <summary>struct mmsghdr: a msghdr plus the byte count the kernel fills in (64 bytes on LP64).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct MMsgHdr
{
    public MsgHdr Header;
    public uint Length;
}

[StructLayout(LayoutKind.Sequential)]
public struct PollFd
{
    public int Fd;
    public short Events;
    public short Revents;
}

public static unsafe partial class Sockets
{
    public const int AF_UNIX = 1;
    public const int AF_NETLINK = 16;
    public const int AF_PACKET = 17;
    public const int SOCK_STREAM = 1;
    public const int SOCK_DGRAM = 2;
    public const int SOCK_RAW = 3;
    public const int SOCK_NONBLOCK = 0x800;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int SOL_SOCKET = 1;
    public const int SO_SNDBUF = 7;
    public const int SO_RCVBUF = 8;
    public const int SO_SNDBUFFORCE = 32;
    public const int SO_RCVBUFFORCE = 33;
    public const int SO_ERROR = 4;
    public const int MSG_DONTWAIT = 0x40;
    public const int MSG_TRUNC = 0x20;
    public const short POLLIN = 1;
    public const short POLLOUT = 4;
    public const short POLLERR = 8;
    // the two errnos every non-blocking caller tests, named once from Core's table
    public const int EAGAIN = (int)Errno.EAGAIN;
    public const int EINTR = (int)Errno.EINTR;

    [LibraryImport(Libc.Name, EntryPoint = "socket", SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport(Libc.Name, EntryPoint = "bind", SetLastError = true)]
    public static partial int bind(int fd, void* addr, uint addrlen);

    [LibraryImport(Libc.Name, EntryPoint = "getsockname", SetLastError = true)]
    public static partial int getsockname(int fd, void* addr, uint* addrlen);

    [LibraryImport(Libc.Name, EntryPoint = "setsockopt", SetLastError = true)]
    public static partial int setsockopt(int fd, int level, int name, void* value, uint len);

    [LibraryImport(Libc.Name, EntryPoint = "getsockopt", SetLastError = true)]
    public static partial int getsockopt(int fd, int level, int name, void* value, uint* len);

    [LibraryImport(Libc.Name, EntryPoint = "sendto", SetLastError = true)]
    public static partial nint sendto(int fd, void* buf, nuint len, int flags, void* addr, uint addrlen);

    [LibraryImport(Libc.Name, EntryPoint = "recvfrom", SetLastError = true)]
    public static partial nint recvfrom(int fd, void* buf, nuint len, int flags, void* addr, uint* addrlen);

    [LibraryImport(Libc.Name, EntryPoint = "sendmsg", SetLastError = true)]
    public static partial nint sendmsg(int fd, MsgHdr* msg, int flags);

    [LibraryImport(Libc.Name, EntryPoint = "recvmsg", SetLastError = true)]
    public static partial nint recvmsg(int fd, MsgHdr* msg, int flags);

    [LibraryImport(Libc.Name, EntryPoint = "sendmmsg", SetLastError = true)]
    public static partial int sendmmsg(int fd, MMsgHdr* msgs, uint vlen, int flags);

    [LibraryImport(Libc.Name, EntryPoint = "recvmmsg", SetLastError = true)]
    public static partial int recvmmsg(int fd, MMsgHdr* msgs, uint vlen, int flags, void* timeout);

    [LibraryImport(Libc.Name, EntryPoint = "poll", SetLastError = true)]
    public static partial int poll(PollFd* fds, nuint nfds, int timeoutMs);

    public static FileDescriptor Open(int domain, int type, int protocol) =>
        new(Libc.Check(socket(domain, type | SOCK_CLOEXEC, protocol), "socket"));

    public static void SetInt(FileDescriptor fd, int level, int name, int value, string what)
    {
        Libc.Check(setsockopt(fd.Fd, level, name, &value, sizeof(int)), what);
        GC.KeepAlive(fd);
    }

    public static int GetInt(FileDescriptor fd, int level, int name, string what)
    {
        int value = 0;
        uint len = sizeof(int);
        Libc.Check(getsockopt(fd.Fd, level, name, &value, &len), what);
        GC.KeepAlive(fd);
        return value;
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> for <paramref name="events"/>; returns the revents (0 on timeout).</summary>
    public static short Poll(int fd, short events, int timeoutMs)
    {
        PollFd p = new() { Fd = fd, Events = events };
        int n = poll(&p, 1, timeoutMs);
        if (n < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == EINTR) return 0;
            throw new SystemCallException("poll", errno);
        }
        return n == 0 ? (short)0 : p.Revents;
    }
}
