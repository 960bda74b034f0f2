// Non-throwing sendmmsg for the datapath thread. PacketSocket's own batch calls throw on
// unexpected errors, which is right for tools and tests but not for a forwarding loop: there one
// bad frame (EINVAL for a header the kernel refuses, EMSGSIZE) or a device going down (ENETDOWN)
// must cost that frame, be counted, and leave the thread running. Errors come back as errno.
using System.Runtime.InteropServices;
using Mvtap.Core.Model;
using Mvtap.Linux;
using Mvtap.Linux.Interop;

namespace Mvtap.Datapath;

internal static unsafe class BatchIo
{
    public const int ENOBUFS = (int)Errno.ENOBUFS;

    /// <summary>Sends frames <paramref name="start"/>.. with one sendmmsg. Returns how many the
    /// kernel took (sendmmsg stops at the first frame it refuses), or -1 with errno when it took none.</summary>
    public static int Send(PacketSocket socket, SocketFrameBatch batch, int start, out int errno)
    {
        errno = 0;
        int count = batch.Count - start;
        if (count <= 0) return 0;
        int n = Sockets.sendmmsg(socket.Handle.Fd, batch.PrepareSend(start, count), (uint)count, Sockets.MSG_DONTWAIT);
        GC.KeepAlive(socket);
        if (n >= 0) return n;
        errno = Marshal.GetLastPInvokeError();
        return -1;
    }
}
