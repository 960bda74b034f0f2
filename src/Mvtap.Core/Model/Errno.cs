// The kernel error numbers the control plane answers with (spec 4.1, 4.4, 6; the state file's and
// namespaces' failures): callers print them the way ip does, and the kernel backend compares them
// with what rtnetlink returns.
namespace Mvtap.Core.Model;

public enum Errno
{
    EPERM = 1,
    ENOENT = 2,
    ESRCH = 3,
    EIO = 5,
    EACCES = 13,
    EBUSY = 16,
    EEXIST = 17,
    ENODEV = 19,
    EINVAL = 22,
    ENOSPC = 28,
    EROFS = 30,
    ERANGE = 34,
    EOPNOTSUPP = 95,
    EADDRINUSE = 98,
    EADDRNOTAVAIL = 99,
}

/// <summary>A refused configuration change, carrying the errno the kernel would return.</summary>
public sealed class MvtapException(Errno errno, string message) : Exception(message)
{
    public Errno Errno { get; } = errno;

    public static string Describe(Errno e) => e switch
    {
        Errno.EPERM => "Operation not permitted",
        Errno.ENOENT => "No such file or directory",
        Errno.ESRCH => "No such process",
        Errno.EIO => "Input/output error",
        Errno.EACCES => "Permission denied",
        Errno.EBUSY => "Device or resource busy",
        Errno.EEXIST => "File exists",
        Errno.ENODEV => "No such device",
        Errno.EINVAL => "Invalid argument",
        Errno.ENOSPC => "No space left on device",
        Errno.EROFS => "Read-only file system",
        Errno.ERANGE => "Numerical result out of range",
        Errno.EOPNOTSUPP => "Operation not supported",
        Errno.EADDRINUSE => "Address already in use",
        Errno.EADDRNOTAVAIL => "Cannot assign requested address",
        _ => e.ToString(),
    };
}
