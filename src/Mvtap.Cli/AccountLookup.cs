// User and group names for `owner`/`group` of a --kernel macvtap's /dev/tapN, resolved from
// /etc/passwd and /etc/group as udev's OWNER=/GROUP= would be (no NSS: the CLI must not depend
// on whatever libnss modules the host has). A number is taken as is, even without an entry.
using System.Globalization;
using Mvtap.Core.Model;

namespace Mvtap.Cli;

internal static class AccountLookup
{
    public static uint UserId(string user) => Resolve("/etc/passwd", user) ?? throw Unknown("user", user);

    public static uint GroupId(string group) => Resolve("/etc/group", group) ?? throw Unknown("group", group);

    /// <summary>The name /etc/passwd gives uid, or the number itself.</summary>
    public static string UserName(uint uid) => NameOf("/etc/passwd", uid);

    public static string GroupName(uint gid) => NameOf("/etc/group", gid);

    private static uint? Resolve(string file, string nameOrNumber)
    {
        foreach (var f in Entries(file))
            if (f[0] == nameOrNumber) return uint.Parse(f[2], CultureInfo.InvariantCulture);
        return uint.TryParse(nameOrNumber, NumberStyles.None, CultureInfo.InvariantCulture, out uint id) ? id : null;
    }

    private static string NameOf(string file, uint id)
    {
        string number = id.ToString(CultureInfo.InvariantCulture);
        foreach (var f in Entries(file))
            if (f[2] == number) return f[0];
        return number;
    }

    // name:password:id:... ; malformed lines are skipped as getpwent does
    private static IEnumerable<string[]> Entries(string file) =>
        (File.Exists(file) ? File.ReadLines(file) : [])
            .Select(line => line.Split(':'))
            .Where(f => f.Length >= 3 && f[0].Length > 0 && uint.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out _));

    private static LinkOperationException Unknown(string what, string name) => new(Errno.EINVAL, $"invalid {what} \"{name}\"");
}
