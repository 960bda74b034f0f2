// The one table of kernel error numbers (asm-generic/errno-base.h, errno.h): what the control plane
// answers with (spec 4.1, 4.4, 6; the state file's and namespaces' failures), printed the way ip
// does, and what system calls and rtnetlink return, which the other layers compare against these
// names (an int errno as (int)Errno.EAGAIN) instead of repeating the numbers.
namespace Mvtap.Core.Model;

public enum Errno
{
    EPERM = 1,
    ENOENT = 2,
    ESRCH = 3,
    EINTR = 4,
    EIO = 5,
    EAGAIN = 11,
    EACCES = 13,
    EBUSY = 16,
    EEXIST = 17,
    ENODEV = 19,
    EINVAL = 22,
    ENOSPC = 28,
    EROFS = 30,
    ERANGE = 34,
    ENODATA = 61,
    EMSGSIZE = 90,
    EOPNOTSUPP = 95,
    EADDRINUSE = 98,
    EADDRNOTAVAIL = 99,
    ENOBUFS = 105,
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
        Errno.EINTR => "Interrupted system call",
        Errno.EIO => "Input/output error",
        Errno.EAGAIN => "Resource temporarily unavailable",
        Errno.EACCES => "Permission denied",
        Errno.EBUSY => "Device or resource busy",
        Errno.EEXIST => "File exists",
        Errno.ENODEV => "No such device",
        Errno.EINVAL => "Invalid argument",
        Errno.ENOSPC => "No space left on device",
        Errno.EROFS => "Read-only file system",
        Errno.ERANGE => "Numerical result out of range",
        Errno.ENODATA => "No data available",
        Errno.EMSGSIZE => "Message too long",
        Errno.EOPNOTSUPP => "Operation not supported",
        Errno.EADDRINUSE => "Address already in use",
        Errno.EADDRNOTAVAIL => "Cannot assign requested address",
        Errno.ENOBUFS => "No buffer space available",
        _ => e.ToString(),
    };
}
