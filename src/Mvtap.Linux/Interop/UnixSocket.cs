// AF_UNIX SOCK_STREAM sockets with SCM_RIGHTS descriptor passing: the vhost-user control
// channel (and the control socket) carry file descriptors in the same sendmsg as the bytes,
// which .NET's Socket class cannot do.
using System.Runtime.InteropServices;
using System.Text;
using Mvtap.Core.Model;

namespace Mvtap.Linux.Interop;

public static unsafe partial class UnixSocket
{
    private const int AF_UNIX = 1;
    private const int SOCK_STREAM = 1;
    private const int SOCK_CLOEXEC = 0x80000;
    private const int SOL_SOCKET = 1;
    private const int SCM_RIGHTS = 1;
    private const int MSG_CTRUNC = 0x8;
    private const int MSG_NOSIGNAL = 0x4000;
    private const int MSG_CMSG_CLOEXEC = 0x40000000;
    private const int SHUT_RDWR = 2;
    private const int SunPathLength = 108;

    /// <summary>The most descriptors one message may carry (the kernel's SCM_MAX_FD).</summary>
    public const int MaxFdsPerMessage = 253;

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVec { public void* Base; public nuint Length; }

    [StructLayout(LayoutKind.Sequential)]
    private struct MsgHdr
    {
        public void* Name; public uint NameLength;
        public IoVec* Iov; public nuint IovLength;
        public void* Control; public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct CmsgHdr { public nuint Length; public int Level; public int Type; }

    [LibraryImport(Libc.Name, SetLastError = true)] private static partial int socket(int domain, int type, int protocol);
    [LibraryImport(Libc.Name, SetLastError = true)] private static partial int socketpair(int domain, int type, int protocol, int* sv);
    [LibraryImport(Libc.Name, SetLastError = true)] private static partial int bind(FileDescriptor fd, byte* addr, int len);
    [LibraryImport(Libc.Name, SetLastError = true)] private static partial int connect(FileDescriptor fd, byte* addr, int len);
    [LibraryImport(Libc.Name, SetLastError = true)] private static partial int listen(FileDescriptor fd, int backlog);
    [LibraryImport(Libc.Name, SetLastError = true)] private static partial int accept4(FileDescriptor fd, void* addr, void* len, int flags);
    [LibraryImport(Libc.Name, SetLastError = true)] private static partial int shutdown(FileDescriptor fd, int how);
    [LibraryImport(Libc.Name, SetLastError = true)] private static partial nint sendmsg(FileDescriptor fd, MsgHdr* msg, int flags);
    [LibraryImport(Libc.Name, SetLastError = true)] private static partial nint recvmsg(FileDescriptor fd, MsgHdr* msg, int flags);
    [LibraryImport(Libc.Name, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int chmod(string path, uint mode);
    [LibraryImport(Libc.Name, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int chown(string path, int uid, int gid);

    public static FileDescriptor Create() =>
        new(Libc.Check(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket(AF_UNIX)"));

    /// <summary>A connected pair of stream sockets.</summary>
    public static (FileDescriptor, FileDescriptor) CreatePair()
    {
        int* sv = stackalloc int[2];
        Libc.Check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), "socketpair(AF_UNIX)");
        return (new FileDescriptor(sv[0]), new FileDescriptor(sv[1]));
    }

    public static void Bind(FileDescriptor fd, string path)
    {
        byte* addr = stackalloc byte[2 + SunPathLength];
        int len = FillAddress(addr, path);
        Libc.Check(bind(fd, addr, len), "bind");
    }

    /// <summary>Connects; returns the errno (0 on success) so callers that retry need no exceptions.</summary>
    public static int Connect(FileDescriptor fd, string path)
    {
        byte* addr = stackalloc byte[2 + SunPathLength];
        int len = FillAddress(addr, path);
        while (true)
        {
            if (connect(fd, addr, len) == 0) return 0;
            int errno = Marshal.GetLastPInvokeError();
            if (errno != (int)Errno.EINTR) return errno;
        }
    }

    public static void Listen(FileDescriptor fd, int backlog = 8) => Libc.Check(listen(fd, backlog), "listen");

    /// <summary>Blocks for the next connection. A <see cref="Shutdown"/> from another thread ends
    /// the wait with a <see cref="SystemCallException"/>.</summary>
    public static FileDescriptor Accept(FileDescriptor listener)
    {
        while (true)
        {
            int fd = accept4(listener, null, null, SOCK_CLOEXEC);
            if (fd >= 0) return new FileDescriptor(fd);
            int errno = Marshal.GetLastPInvokeError();
            if (errno != (int)Errno.EINTR) throw new SystemCallException("accept4", errno);
        }
    }

    /// <summary>Shuts both directions down; wakes a thread blocked in accept or recvmsg on it.</summary>
    public static void Shutdown(FileDescriptor fd) => shutdown(fd, SHUT_RDWR);

    /// <summary>Sends <paramref name="data"/> with <paramref name="fds"/> attached as SCM_RIGHTS;
    /// returns the number of bytes the kernel took (the descriptors go with the first byte).</summary>
    public static int Send(FileDescriptor fd, ReadOnlySpan<byte> data, ReadOnlySpan<int> fds = default)
    {
        if (fds.Length > MaxFdsPerMessage) throw new ArgumentException("too many descriptors", nameof(fds));
        int space = fds.IsEmpty ? 0 : ControlSpace(fds.Length);
        byte* control = stackalloc byte[space == 0 ? 1 : space];
        fixed (byte* p = data)
        {
            IoVec iov = new() { Base = p, Length = (nuint)data.Length };
            MsgHdr msg = new() { Iov = &iov, IovLength = 1 };
            if (space > 0)
            {
                new Span<byte>(control, space).Clear();
                var cmsg = (CmsgHdr*)control;
                cmsg->Length = (nuint)(sizeof(CmsgHdr) + 4 * fds.Length);
                cmsg->Level = SOL_SOCKET;
                cmsg->Type = SCM_RIGHTS;
                fds.CopyTo(new Span<int>(control + sizeof(CmsgHdr), fds.Length));
                msg.Control = control;
                msg.ControlLength = (nuint)space;
            }
            while (true)
            {
                nint n = sendmsg(fd, &msg, MSG_NOSIGNAL);
                if (n >= 0) return (int)n;
                int errno = Marshal.GetLastPInvokeError();
                if (errno != (int)Errno.EINTR) throw new SystemCallException("sendmsg", errno);
            }
        }
    }

    /// <summary>Receives up to <paramref name="data"/>.Length bytes (0 = the peer closed) and
    /// the descriptors that came with them, as owned handles. Descriptors beyond
    /// <paramref name="maxFds"/> are dropped by the kernel (or closed here) and reported through
    /// <paramref name="fdsTruncated"/>.</summary>
    public static int Receive(FileDescriptor fd, Span<byte> data, List<FileDescriptor> fds, int maxFds, out bool fdsTruncated)
    {
        fdsTruncated = false;
        int space = ControlSpace(Math.Max(1, maxFds));
        byte* control = stackalloc byte[space];
        fixed (byte* p = data)
        {
            IoVec iov = new() { Base = p, Length = (nuint)data.Length };
            MsgHdr msg = new() { Iov = &iov, IovLength = 1, Control = control, ControlLength = (nuint)space };
            nint n;
            while (true)
            {
                n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
                if (n >= 0) break;
                int errno = Marshal.GetLastPInvokeError();
                if (errno != (int)Errno.EINTR) throw new SystemCallException("recvmsg", errno);
            }
            if ((msg.Flags & MSG_CTRUNC) != 0) fdsTruncated = true;
            CollectFds(control, (int)msg.ControlLength, fds, maxFds, ref fdsTruncated);
            return (int)n;
        }
    }

    /// <summary>Sets the socket file's mode (e.g. 0660 so the VM's group may connect).</summary>
    public static void SetMode(string path, uint mode) => Libc.Check(chmod(path, mode), "chmod");

    /// <summary>Sets the socket file's owner; -1 leaves uid or gid unchanged.</summary>
    public static void SetOwner(string path, int uid, int gid) => Libc.Check(chown(path, uid, gid), "chown");

    private static void CollectFds(byte* control, int length, List<FileDescriptor> fds, int maxFds, ref bool truncated)
    {
        int offset = 0;
        while (offset + sizeof(CmsgHdr) <= length)
        {
            var cmsg = (CmsgHdr*)(control + offset);
            int cmsgLen = (int)cmsg->Length;
            if (cmsgLen < sizeof(CmsgHdr) || offset + cmsgLen > length) break;
            if (cmsg->Level == SOL_SOCKET && cmsg->Type == SCM_RIGHTS)
            {
                int count = (cmsgLen - sizeof(CmsgHdr)) / 4;
                int* p = (int*)(control + offset + sizeof(CmsgHdr));
                for (int i = 0; i < count; i++)
                {
                    // Every received descriptor is owned from here on, so none can leak.
                    var owned = new FileDescriptor(p[i]);
                    if (fds.Count < maxFds) fds.Add(owned);
                    else { owned.Dispose(); truncated = true; }
                }
            }
            offset += Align8(cmsgLen);
        }
    }

    private static int FillAddress(byte* addr, string path)
    {
        int n = Encoding.UTF8.GetByteCount(path);
        if (n == 0 || n >= SunPathLength) throw new ArgumentException($"unix socket path must be 1..{SunPathLength - 1} bytes: {path}", nameof(path));
        new Span<byte>(addr, 2 + SunPathLength).Clear();
        *(ushort*)addr = AF_UNIX;
        Encoding.UTF8.GetBytes(path, new Span<byte>(addr + 2, SunPathLength));
        return 2 + n + 1;
    }

    private static int ControlSpace(int fdCount) => sizeof(CmsgHdr) + Align8(4 * fdCount);

    private static int Align8(int n) => (n + 7) & ~7;
}
