// The number form of an endpoint's `owner`/`group` (ip tuntap's user/group): a decimal uid or
// gid in 0..4294967294. 4294967295 is (uid_t)-1, which chown(2) reads as "leave unchanged" and
// the kernel's make_kuid as no user at all (TUNSETOWNER refuses it, EINVAL): it names no
// account. A number too large for 32 bits names none either. Both are refused in ip's words for
// a bad user or group, by the CLI and by mvtapd (any client can send a request).
using System.Globalization;

namespace Mvtap.Control;

public static class AccountNumbers
{
    /// <summary>Whether <paramref name="value"/> is written as a number (decimal digits only), and
    /// so is taken as an id, not a name, as ip does.</summary>
    public static bool IsNumber(string value)
    {
        if (value.Length == 0) return false;
        foreach (char c in value)
            if (!char.IsAsciiDigit(c)) return false;
        return true;
    }

    /// <summary>The id <paramref name="value"/> writes, if it is a number that names an account
    /// (0..4294967294).</summary>
    public static bool TryParse(string value, out uint id)
    {
        if (IsNumber(value) && uint.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out id) && id != uint.MaxValue)
            return true;
        id = 0;
        return false;
    }

    /// <summary>ip's words when <paramref name="value"/> is a number that names no account
    /// (<paramref name="what"/> "user" or "group"), else null.</summary>
    public static string? Refusal(string what, string value) =>
        IsNumber(value) && !TryParse(value, out _) ? $"invalid {what} \"{value}\"" : null;
}
