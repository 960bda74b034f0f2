// Parsers for keyword values (MAC, integers, on/off, interface names) with ip's error wording.
using System.Globalization;
using Mvtap.Control;
using Mvtap.Core.Frames;

namespace Mvtap.Cli;

internal static class ArgumentValues
{
    /// <summary>A MAC that is syntactically six bytes; ip's "is invalid lladdr" otherwise.</summary>
    public static MacAddress ParseMac(string arg) =>
        MacAddress.TryParse(arg, out var mac) ? mac : throw UsageErrors.InvalidLladdr(arg);

    /// <summary>A MAC an endpoint may own: valid unicast (the kernel's is_valid_ether_addr).</summary>
    public static string ParseUnicastMac(string arg)
    {
        var mac = ParseMac(arg);
        if (!mac.IsValidUnicast) throw UsageErrors.NotUnicast(mac);
        return mac.ToString();
    }

    /// <summary>An interface name. With <paramref name="naming"/> (the name an endpoint is to have) the
    /// daemon's own check, InterfaceNames (the kernel's dev_valid_name and more); otherwise a reference to
    /// an existing interface, which the kernel may know by a longer alternative name: ip's check_altifname
    /// (non-empty, no '/' and no white space).</summary>
    public static string ParseInterfaceName(string arg, string keyword, bool naming = true)
    {
        bool ok = naming ? InterfaceNames.IsValid(arg) : arg.Length > 0 && !arg.Any(c => c == '/' || char.IsWhiteSpace(c));
        return ok ? arg : throw new CommandLineException($"Error: {InterfaceNames.Refusal(arg, keyword)}");
    }

    /// <summary>get_u32 with base 0: decimal, 0x hex or leading-0 octal.</summary>
    public static bool TryParseUInt32(string s, out uint value)
    {
        value = 0;
        if (s.Length == 0) return false;
        try
        {
            if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
                return s.Length > 2 && uint.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
            if (s.Length > 1 && s[0] == '0')
            {
                value = Convert.ToUInt32(s, 8);
                return true;
            }
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
        {
            return false;
        }
        return s.All(char.IsAsciiDigit) && uint.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>get_integer: a signed decimal (or 0x hex) int.</summary>
    public static bool TryParseInt32(string s, out int value)
    {
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase) && s.Length > 2)
            return int.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
        return int.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>ip's parse_on_off.</summary>
    public static bool ParseOnOff(string keyword, string arg) => arg switch
    {
        "on" => true,
        "off" => false,
        _ => throw UsageErrors.ArgumentMustBe(keyword, "\"on\" or \"off\"", arg),
    };
}
