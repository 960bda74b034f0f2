// Turns the owner/group of an endpoint (names or numbers, as `ip tuntap ... user U group G`
// takes them) into the uid/gid its attachment points are given. An unknown name is an error
// the request sees, not a file silently left to root; so is a number that names no account
// (4294967295, (uid_t)-1, or one past 32 bits: AccountNumbers).
using Mvtap.Control;
using Mvtap.Core.Model;
using Mvtap.Daemon.Control;

namespace Mvtap.Daemon.Attachments;

internal static class Accounts
{
    public static int Uid(string? owner)
    {
        if (owner is null) return -1;
        if (AccountNumbers.IsNumber(owner))
            return AccountNumbers.TryParse(owner, out var n) ? (int)n : throw new MvtapException(Errno.EINVAL, AccountNumbers.Refusal("user", owner)!);
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
        if (AccountNumbers.Refusal("group", group) is { } refusal) throw new MvtapException(Errno.EINVAL, refusal);
        return SocketAccess.ResolveGroup(group) is { } g ? (int)g.gid : throw new MvtapException(Errno.EINVAL, $"invalid group \"{group}\"");
    }
}
