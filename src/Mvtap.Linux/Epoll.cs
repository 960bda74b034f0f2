// An epoll set: what a datapath thread sleeps on (lower socket, TAP fds, kick eventfds, wake-up eventfd).
using System.Runtime.InteropServices;
using Mvtap.Linux.Interop;

namespace Mvtap.Linux;

public sealed unsafe class Epoll : IDisposable
{
    private readonly FileDescriptor _fd;

    public Epoll() => _fd = new FileDescriptor(Libc.Check(EpollSyscalls.epoll_create1(EpollSyscalls.EPOLL_CLOEXEC), "epoll_create1"));

    public FileDescriptor Handle => _fd;

    /// <summary>Watches <paramref name="fd"/> for <paramref name="events"/> (EPOLLIN...); <paramref name="data"/> comes back with each event.</summary>
    public void Add(int fd, uint events, ulong data) => Control(EpollSyscalls.EPOLL_CTL_ADD, fd, events, data, "epoll_ctl(ADD)");

    public void Modify(int fd, uint events, ulong data) => Control(EpollSyscalls.EPOLL_CTL_MOD, fd, events, data, "epoll_ctl(MOD)");

    public void Remove(int fd) => Control(EpollSyscalls.EPOLL_CTL_DEL, fd, 0, 0, "epoll_ctl(DEL)");

    /// <summary>Waits up to <paramref name="timeoutMs"/> (-1 = forever) and fills <paramref name="events"/>; 0 on timeout or signal.</summary>
    public int Wait(Span<EpollEvent> events, int timeoutMs)
    {
        fixed (EpollEvent* p = events)
        {
            int n = EpollSyscalls.epoll_wait(_fd.Fd, p, events.Length, timeoutMs);
            if (n >= 0) return n;
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Sockets.EINTR) return 0;
            throw new SystemCallException("epoll_wait", errno);
        }
    }

    private void Control(int op, int fd, uint events, ulong data, string what)
    {
        EpollEvent ev = new() { Events = events, Data = data };
        Libc.Check(EpollSyscalls.epoll_ctl(_fd.Fd, op, fd, &ev), what);
    }

    public void Dispose() => _fd.Dispose();
}
