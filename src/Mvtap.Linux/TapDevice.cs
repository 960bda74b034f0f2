// A TAP queue: /dev/net/tun attached to a tap interface, or a macvtap character device
// (/dev/tapN). One frame per read/write (the kernel offers no batch here); the fd is non-blocking
// and the send buffer is raised to INT_MAX because with the default a blocking write can hang (spec 5.4).
using System.Runtime.InteropServices;
using Mvtap.Linux.Interop;

namespace Mvtap.Linux;

public sealed unsafe class TapDevice : IDisposable
{
    private readonly FileDescriptor _fd;

    private TapDevice(FileDescriptor fd, string name, short flags)
    {
        _fd = fd;
        Name = name;
        Flags = flags;
    }

    public string Name { get; }
    /// <summary>The IFF_* flags the queue was attached with.</summary>
    public short Flags { get; }
    public bool VnetHeader => (Flags & Tun.IFF_VNET_HDR) != 0;
    public FileDescriptor Handle => _fd;

    /// <summary>
    /// Creates (or attaches a queue to) tap <paramref name="name"/> in the calling thread's namespace with
    /// IFF_TAP|IFF_NO_PI and optionally IFF_VNET_HDR / IFF_MULTI_QUEUE. A name with "%d" lets the kernel number it.
    /// </summary>
    public static TapDevice Create(string name, bool vnetHeader = true, bool multiQueue = false)
    {
        short flags = (short)(Tun.IFF_TAP | Tun.IFF_NO_PI | (vnetHeader ? Tun.IFF_VNET_HDR : 0) | (multiQueue ? Tun.IFF_MULTI_QUEUE : 0));
        return Attach(Tun.CloneDevice, name, flags);
    }

    /// <summary>Opens a macvtap character device (e.g. a private node for /dev/tapN); the name in TUNSETIFF is ignored there.</summary>
    public static TapDevice OpenMacvtap(string devicePath, bool vnetHeader = true, bool multiQueue = false)
    {
        short flags = (short)(Tun.IFF_TAP | Tun.IFF_NO_PI | (vnetHeader ? Tun.IFF_VNET_HDR : 0) | (multiQueue ? Tun.IFF_MULTI_QUEUE : 0));
        return Attach(devicePath, "", flags);
    }

    private static TapDevice Attach(string path, string name, short flags)
    {
        var fd = FileIo.Open(path, FileIo.O_RDWR | FileIo.O_NONBLOCK);
        try
        {
            var req = IfReq.ForName(name);
            req.Flags = flags;
            Ioctl.WithPointer(fd, Tun.TUNSETIFF, &req, $"ioctl(TUNSETIFF {name})");
            var got = default(IfReq);
            Ioctl.WithPointer(fd, Tun.TUNGETIFF, &got, "ioctl(TUNGETIFF)");
            var tap = new TapDevice(fd, got.GetName(), flags);
            tap.SetSendBuffer(int.MaxValue);
            return tap;
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>TUNSETOFFLOAD with TUN_F_* bits: the offloads the reader accepts (spec 5.6).</summary>
    public void SetOffload(uint tunFlags) => Ioctl.WithValue(_fd, Tun.TUNSETOFFLOAD, tunFlags, "ioctl(TUNSETOFFLOAD)");

    public void SetVnetHeaderSize(int size) { int v = size; Ioctl.WithPointer(_fd, Tun.TUNSETVNETHDRSZ, &v, "ioctl(TUNSETVNETHDRSZ)"); }

    public int GetVnetHeaderSize() { int v = 0; Ioctl.WithPointer(_fd, Tun.TUNGETVNETHDRSZ, &v, "ioctl(TUNGETVNETHDRSZ)"); return v; }

    public void SetSendBuffer(int bytes) { int v = bytes; Ioctl.WithPointer(_fd, Tun.TUNSETSNDBUF, &v, "ioctl(TUNSETSNDBUF)"); }

    /// <summary>TUNGETSNDBUF (not supported by macvtap: EINVAL there).</summary>
    public int GetSendBuffer() { int v = 0; Ioctl.WithPointer(_fd, Tun.TUNGETSNDBUF, &v, "ioctl(TUNGETSNDBUF)"); return v; }

    public uint GetFeatures() { uint v = 0; Ioctl.WithPointer(_fd, Tun.TUNGETFEATURES, &v, "ioctl(TUNGETFEATURES)"); return v; }

    /// <summary>TUNSETOWNER: the user allowed to attach (tun only; -1 = anyone).</summary>
    public void SetOwner(int uid) => Ioctl.WithValue(_fd, Tun.TUNSETOWNER, (ulong)(uint)uid, "ioctl(TUNSETOWNER)");

    public void SetGroup(int gid) => Ioctl.WithValue(_fd, Tun.TUNSETGROUP, (ulong)(uint)gid, "ioctl(TUNSETGROUP)");

    /// <summary>TUNSETPERSIST: keep the interface after the last fd closes (tun only).</summary>
    public void SetPersist(bool persist) => Ioctl.WithValue(_fd, Tun.TUNSETPERSIST, persist ? 1UL : 0UL, "ioctl(TUNSETPERSIST)");

    /// <summary>TUNSETQUEUE: enable or disable this queue of a multi-queue device.</summary>
    public void SetQueueEnabled(bool enabled)
    {
        var req = default(IfReq);
        req.Flags = enabled ? Tun.IFF_ATTACH_QUEUE : Tun.IFF_DETACH_QUEUE;
        Ioctl.WithPointer(_fd, Tun.TUNSETQUEUE, &req, "ioctl(TUNSETQUEUE)");
    }

    public bool WaitReadable(int timeoutMs) => (Sockets.Poll(_fd.Fd, Sockets.POLLIN, timeoutMs) & Sockets.POLLIN) != 0;

    /// <summary>Reads one frame (with its vnet header when on); 0 when none is waiting.</summary>
    public int Read(Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            nint n = FileIo.read(_fd.Fd, p, (nuint)buffer.Length);
            if (n >= 0) return (int)n;
            int errno = Marshal.GetLastPInvokeError();
            if (errno is Sockets.EAGAIN or Sockets.EINTR) return 0;
            throw new SystemCallException($"read({Name})", errno);
        }
    }

    /// <summary>Writes one frame; false if the queue is full (EAGAIN).</summary>
    public bool Write(ReadOnlySpan<byte> frame)
    {
        fixed (byte* p = frame)
        {
            nint n = FileIo.write(_fd.Fd, p, (nuint)frame.Length);
            if (n >= 0) return true;
            int errno = Marshal.GetLastPInvokeError();
            if (errno is Sockets.EAGAIN or Sockets.EINTR) return false;
            throw new SystemCallException($"write({Name})", errno);
        }
    }

    /// <summary>Reads frames into the batch until it is full or nothing waits; one read per frame.</summary>
    public int ReadBatch(SocketFrameBatch batch)
    {
        batch.Clear();
        while (batch.Count < batch.Capacity)
        {
            int n = Read(batch.Reserve());
            if (n == 0) break;
            batch.Commit(n);
        }
        return batch.Count;
    }

    /// <summary>Writes frames <paramref name="start"/>.. of the batch; returns how many were taken.</summary>
    public int WriteBatch(SocketFrameBatch batch, int start = 0)
    {
        int i = start;
        while (i < batch.Count && Write(batch.Frame(i))) i++;
        return i - start;
    }

    public void Dispose() => _fd.Dispose();
}
