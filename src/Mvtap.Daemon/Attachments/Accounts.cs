// Turns the owner/group of an endpoint (names or numbers, as `ip tuntap ... user U group G`
// takes them) into the uid/gid its attachment points are given. An unknown name is an error
// the request sees, not a file silently left to root.
using Mvtap.Core.Model;
using Mvtap.Daemon.Control;

namespace Mvtap.Daemon.Attachments;

internal static class Accounts
{
    public static int Uid(string? owner)
    {
        if (owner is null) return -1;
        if (uint.TryParse(owner, out var n)) return (int)n;
        if (File.Exists("/etc/passwd"))
            foreach (var line in File.ReadLines("/etc/passwd"))
            {
                var f = line.Split(':');
                if (f.Length >= 3 && f[0] == owner && uint.TryParse(f[2], out var id)) return (int)id;
            }
        throw new MvtapException(Errno.EINVAL, $"invalid user \"{owner}\"");
    }

    public static int Gid(string? group)
    {
        if (group is null) return -1;
        return SocketAccess.ResolveGroup(group) is { } g ? (int)g.gid : throw new MvtapException(Errno.EINVAL, $"invalid group \"{group}\"");
    }
}
