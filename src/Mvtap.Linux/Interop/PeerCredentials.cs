// SO_PEERCRED: who is on the other end of a Unix socket (pid, uid, gid), for the control
// socket's permission check.
using System.Runtime.InteropServices;

namespace Mvtap.Linux.Interop;

[StructLayout(LayoutKind.Sequential)]
public struct UCred
{
    public int Pid;
    public uint Uid;
    public uint Gid;
}

public static unsafe class PeerCredentials
{
    private const int SO_PEERCRED = 17;

    public static UCred Of(SafeHandle socket)
    {
        UCred cred;
        uint len = (uint)sizeof(UCred);
        bool added = false;
        socket.DangerousAddRef(ref added);
        try
        {
            Libc.Check(Sockets.getsockopt((int)socket.DangerousGetHandle(), Sockets.SOL_SOCKET, SO_PEERCRED, &cred, &len), "getsockopt(SO_PEERCRED)");
        }
        finally
        {
            if (added) socket.DangerousRelease();
        }
        return cred;
    }
}
