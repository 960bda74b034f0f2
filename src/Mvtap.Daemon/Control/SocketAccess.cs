// Who may use the control socket: root, the daemon's own user, and members of the socket's
// group. The socket file's mode 0660 already keeps others out; checking the peer's
// credentials too means a socket handed on by mistake does not widen access.

namespace Mvtap.Daemon.Control;

public sealed class SocketAccess
{
    private readonly uint? _gid;
    private readonly string? _groupName;

    public SocketAccess(string? group)
    {
        if (group is null) return;
        (_groupName, _gid) = ResolveGroup(group) ?? throw new ArgumentException($"group \"{group}\" does not exist");
    }

    public uint? Gid => _gid;

    public bool Allows(uint uid, uint gid)
    {
        if (uid == 0 || uid == Mvtap.Linux.Interop.Identity.EffectiveUserId) return true;
        if (_gid is not { } g) return false;
        return gid == g || IsMember(uid, _groupName!);
    }

    /// <summary>Looks a group up by name or number in /etc/group.</summary>
    public static (string name, uint gid)? ResolveGroup(string group)
    {
        foreach (var line in ReadLines("/etc/group"))
        {
            var f = line.Split(':');
            if (f.Length >= 3 && uint.TryParse(f[2], out var id) && (f[0] == group || f[2] == group)) return (f[0], id);
        }
        return Mvtap.Control.AccountNumbers.TryParse(group, out var n) ? (group, n) : null;
    }

    private static bool IsMember(uint uid, string groupName)
    {
        string? user = null;
        foreach (var line in ReadLines("/etc/passwd"))
        {
            var f = line.Split(':');
            if (f.Length >= 3 && f[2] == uid.ToString(System.Globalization.CultureInfo.InvariantCulture)) { user = f[0]; break; }
        }
        if (user is null) return false;
        foreach (var line in ReadLines("/etc/group"))
        {
            var f = line.Split(':');
            if (f.Length >= 4 && f[0] == groupName && f[3].Split(',').Contains(user)) return true;
        }
        return false;
    }

    private static IEnumerable<string> ReadLines(string path) => File.Exists(path) ? File.ReadLines(path) : [];
}
