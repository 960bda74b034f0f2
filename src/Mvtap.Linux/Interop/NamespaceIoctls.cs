// ioctl_ns(2): who owns a namespace. NS_GET_USERNS gives the user namespace that owns a
// namespace, NS_GET_PARENT a user namespace's parent (EPERM at the initial one, as seen from
// a process in it), NS_GET_OWNER_UID the uid that created a user namespace.
using System.Runtime.InteropServices;
using Mvtap.Core.Model;

namespace Mvtap.Linux.Interop;

public static unsafe partial class NamespaceIoctls
{
    private const nuint NS_GET_USERNS = 0xb701;
    private const nuint NS_GET_PARENT = 0xb702;
    private const nuint NS_GET_OWNER_UID = 0xb704;

    [LibraryImport(Libc.Name, EntryPoint = "ioctl", SetLastError = true)]
    private static partial int ioctl(int fd, nuint request, void* arg);

    /// <summary>The owner uids of the user namespace that owns <paramref name="ns"/> and of each of
    /// its ancestors, nearest first, up to and without the initial user namespace (which no uid
    /// owns): empty for a namespace made by root in the initial user namespace (`ip netns add`).
    /// Throws when <paramref name="ns"/> is not a namespace.</summary>
    public static List<uint> UserNamespaceOwners(FileDescriptor ns)
    {
        var owners = new List<uint>();
        var user = new FileDescriptor(Libc.Check(ioctl(ns.Fd, NS_GET_USERNS, null), "ioctl(NS_GET_USERNS)"));
        GC.KeepAlive(ns);
        while (true)
        {
            FileDescriptor parent;
            using (user)
            {
                int p = ioctl(user.Fd, NS_GET_PARENT, null);
                if (p < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == (int)Errno.EPERM) return owners; // the initial user namespace
                    throw new SystemCallException("ioctl(NS_GET_PARENT)", errno);
                }
                parent = new FileDescriptor(p);
                uint uid;
                if (ioctl(user.Fd, NS_GET_OWNER_UID, &uid) < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    parent.Dispose();
                    throw new SystemCallException("ioctl(NS_GET_OWNER_UID)", errno);
                }
                owners.Add(uid);
            }
            user = parent;
        }
    }
}
