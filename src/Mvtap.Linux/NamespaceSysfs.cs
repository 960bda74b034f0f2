// Reading sysfs as a given network namespace sees it. /sys/class/net shows the devices of the
// namespace that *mounted* that sysfs, not of the reader's, so a thread that merely setns()ed
// into a namespace still sees the host's devices there. Like `ip netns exec`, the read runs on a
// dedicated thread that enters the namespace, unshares its mount namespace (allowed for one
// thread: it also unshares the thread's fs_struct), makes the tree private so nothing propagates
// back, and mounts a fresh sysfs on /sys; the thread and its mount namespace end with the read.
using System.Runtime.ExceptionServices;
using Mvtap.Linux.Interop;

namespace Mvtap.Linux;

public static class NamespaceSysfs
{
    /// <summary>Runs <paramref name="read"/> with /sys showing the devices of <paramref name="netns"/>; needs CAP_SYS_ADMIN.</summary>
    public static T Read<T>(FileDescriptor netns, Func<T> read)
    {
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                NetNamespace.Enter(netns);
                Libc.Check(Namespaces.unshare(Mounts.CLONE_NEWNS), "unshare(CLONE_NEWNS)");
                Mounts.Mount(null, "/", null, Mounts.MS_REC | Mounts.MS_PRIVATE);
                // the old one goes first: mounting a namespace's sysfs over itself is EBUSY; failure
                // to detach (nothing mounted there) is not an error, as in ip's netns_switch
                Mounts.umount2("/sys", Mounts.MNT_DETACH);
                Mounts.Mount("sysfs", "/sys", "sysfs", 0);
                result = read();
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
        }) { IsBackground = true, Name = "sysfs-in-netns" };
        thread.Start();
        thread.Join();
        failure?.Throw();
        return result;
    }
}
