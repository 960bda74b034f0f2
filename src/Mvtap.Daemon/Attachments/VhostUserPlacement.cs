// Checks a vhost-user socket path a client asks for (`link add ... ` with vhost_user_path, what the
// CNI plugin sends for its socketDir) before mvtapd, as root, binds a socket there. Binding replaces
// a stale socket file and chowns the new one to the endpoint's owner, so a path in a directory that
// someone else may write to would let that someone swap a symlink in between and have mvtapd delete
// or hand over a file of their choosing. So: an absolute, normalised path that fits sun_path, whose
// directory and every directory above it belong to root and are writable by nobody else (a sticky
// directory such as /tmp is fine above it), and where anything already there is a socket.
using System.Text;
using Mvtap.Core.Model;
using Mvtap.Linux.Interop;

namespace Mvtap.Daemon.Attachments;

internal static class VhostUserPlacement
{
    /// <summary>sizeof(sockaddr_un.sun_path) - 1.</summary>
    public const int MaxPathBytes = 107;

    private const uint GroupOrOtherWrite = 0x12; // 0o022
    private const uint Sticky = 0x200;          // 0o1000

    /// <summary>Throws MvtapException (EINVAL, EPERM, EEXIST) unless mvtapd may bind a socket at <paramref name="path"/>.</summary>
    public static void Check(string path)
    {
        CheckSyntax(path);
        CheckDirectories(path);
    }

    /// <summary>An absolute, normalised path without control characters that fits sun_path (EINVAL otherwise).</summary>
    public static void CheckSyntax(string path)
    {
        if (!Path.IsPathRooted(path) || path.EndsWith('/') || path.Contains("//", StringComparison.Ordinal)
            || path.Split('/').Any(part => part is "." or ".."))
            throw new MvtapException(Errno.EINVAL, $"vhost-user socket path \"{path}\" is not an absolute, normalised path");
        if (Encoding.UTF8.GetByteCount(path) > MaxPathBytes)
            throw new MvtapException(Errno.EINVAL, $"vhost-user socket path \"{path}\" is longer than {MaxPathBytes} bytes (sun_path)");
        if (path.Any(char.IsControl))
            throw new MvtapException(Errno.EINVAL, "vhost-user socket path contains a control character");
    }

    private static void CheckDirectories(string path)
    {
        var dir = Path.GetDirectoryName(path)!;
        var info = DeviceNodes.Inspect(dir)
                   ?? throw new MvtapException(Errno.ENOENT, $"directory {dir} for the vhost-user socket does not exist");
        if (!info.IsDirectory)
            throw new MvtapException(Errno.EINVAL, $"{dir} is not a directory (a symlink is not followed)");
        if (info.Uid != 0 || (info.Permissions & GroupOrOtherWrite) != 0)
            throw new MvtapException(Errno.EPERM,
                $"Operation not permitted: {dir} must belong to root and be writable by nobody else to hold a vhost-user socket");
        for (var above = Path.GetDirectoryName(dir); above is not null; above = Path.GetDirectoryName(above))
        {
            var a = DeviceNodes.Inspect(above);
            if (a is null || !a.IsDirectory || a.Uid != 0 || ((a.Permissions & GroupOrOtherWrite) != 0 && (a.Permissions & Sticky) == 0))
                throw new MvtapException(Errno.EPERM,
                    $"Operation not permitted: {above} (above {dir}) must be a directory of root's that nobody else may rename entries in");
        }
        var existing = DeviceNodes.Inspect(path);
        if (existing is not null && !existing.IsSocket)
            throw new MvtapException(Errno.EEXIST, $"{path} exists and is not a socket");
    }
}
