// Non-throwing recvmmsg/sendmmsg for the datapath thread. PacketSocket's own batch calls throw on
// unexpected errors, which is right for tools and tests but not for a forwarding loop: there one
// bad frame (EINVAL for a header the kernel refuses, EMSGSIZE) or a device going down (ENETDOWN)
// must cost that frame, be counted, and leave the thread running. Errors come back as errno.
using System.Runtime.InteropServices;
using Mvtap.Linux.Interop;

namespace Mvtap.Linux.Datapath;

internal static unsafe class BatchIo
{
    public const int ENOBUFS = 105;

    /// <summary>Fills <paramref name="batch"/> with one recvmmsg; returns the frame count, 0 when
    /// nothing is waiting, -1 with <paramref name="errno"/> on an error (the socket's pending
    /// error is consumed by the call, so a level-triggered epoll does not spin on it).</summary>
    public static int Receive(PacketSocket socket, FrameBatch batch, out int errno)
    {
        errno = 0;
        int n = Sockets.recvmmsg(socket.Handle.Fd, batch.PrepareReceive(), (uint)batch.Capacity, Sockets.MSG_DONTWAIT, null);
        GC.KeepAlive(socket);
        if (n < 0)
        {
            batch.Count = 0;
            errno = Marshal.GetLastPInvokeError();
            return errno is Sockets.EAGAIN or Sockets.EINTR ? 0 : -1;
        }
        batch.CompleteReceive(n);
        for (int i = 0; i < n; i++)
            if (batch.TryGetVlanTag(i, out ushort tpid, out ushort tci)) ReinsertVlanTag(batch, i, socket.VnetHeaderSize, tpid, tci);
        return n;
    }

    /// <summary>Puts a VLAN tag the kernel took out of the frame back in after the MAC addresses,
    /// so the frame is forwarded byte for byte as it was sent (spec 3.7, R24); a checksum offset
    /// in the virtio-net header moves with the bytes, as tap does when it re-inserts a tag.</summary>
    private static void ReinsertVlanTag(FrameBatch batch, int i, int vnetSize, ushort tpid, ushort tci)
    {
        int length = batch.Length(i);
        if (length + 4 > batch.SlotSize || length < vnetSize + 12) return;
        var slot = batch.Slot(i);
        int at = vnetSize + 12;
        slot[at..length].CopyTo(slot[(at + 4)..]);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(slot[at..], tpid);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(slot[(at + 2)..], tci);
        batch.SetLength(i, length + 4);
        if (vnetSize >= 10 && (slot[0] & 1) != 0) // VIRTIO_NET_HDR_F_NEEDS_CSUM: csum_start at 6
        {
            ushort start = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(slot[6..]);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(slot[6..], (ushort)(start + 4));
        }
    }

    /// <summary>Sends frames <paramref name="start"/>.. with one sendmmsg. Returns how many the
    /// kernel took (sendmmsg stops at the first frame it refuses), or -1 with errno when it took none.</summary>
    public static int Send(PacketSocket socket, FrameBatch batch, int start, out int errno)
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
