// The owning wrapper for every file descriptor mvtap opens (sockets, TAP queues, eventfds,
// epoll, memfds): closed exactly once, by the runtime if nobody else does.
using System.Runtime.InteropServices;

namespace Mvtap.Linux.Interop;

public sealed class FileDescriptor : SafeHandle
{
    public FileDescriptor() : base(-1, ownsHandle: true) { }

    public FileDescriptor(int fd, bool ownsHandle = true) : base(-1, ownsHandle) => SetHandle(fd);

    public int Fd => (int)handle;

    public override bool IsInvalid => handle < 0;

    protected override bool ReleaseHandle() => Libc.close((int)handle) == 0;
}
