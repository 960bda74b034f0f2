// epoll(7): the readiness set each datapath thread waits on.
using System.Runtime.InteropServices;

namespace Mvtap.Linux.Interop;

/// <summary>struct epoll_event: packed on x86_64 (12 bytes), the kernel ABI.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct EpollEvent
{
    public uint Events;
    public ulong Data;
}

public static unsafe partial class EpollSyscalls
{
    public const int EPOLL_CLOEXEC = 0x80000;
    public const int EPOLL_CTL_ADD = 1;
    public const int EPOLL_CTL_DEL = 2;
    public const int EPOLL_CTL_MOD = 3;
    public const uint EPOLLIN = 0x001;
    public const uint EPOLLOUT = 0x004;
    public const uint EPOLLERR = 0x008;
    public const uint EPOLLHUP = 0x010;
    public const uint EPOLLET = 1u << 31;

    [LibraryImport(Libc.Name, EntryPoint = "epoll_create1", SetLastError = true)]
    public static partial int epoll_create1(int flags);

    [LibraryImport(Libc.Name, EntryPoint = "epoll_ctl", SetLastError = true)]
    public static partial int epoll_ctl(int epfd, int op, int fd, EpollEvent* ev);

    [LibraryImport(Libc.Name, EntryPoint = "epoll_wait", SetLastError = true)]
    public static partial int epoll_wait(int epfd, EpollEvent* events, int maxevents, int timeoutMs);
}
