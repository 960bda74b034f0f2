// Which names an endpoint or a lower may have, for the daemon (any client can speak the control
// protocol) and the CLI alike. At least the kernel's dev_valid_name: 1..15 bytes (IFNAMSIZ - 1) of
// UTF-8, not "." or "..", no '/', ':' or white space, where white space is the kernel's isspace on
// bytes (\t \n \v \f \r, space and 0xA0, so the kernel also refuses "à", C3 A0); and no '%', which
// no interface's name has (the kernel takes "name%d" as a pattern to number and refuses any other
// '%'; mvtap numbers a name left out instead). And, a deliberate difference (README), no control
// characters, no Unicode format characters (bidi overrides and isolates, zero-width characters)
// and no other separators: they would split `link show`'s lines or make one name look like another.
using System.Globalization;
using System.Text;

namespace Mvtap.Control;

public static class InterfaceNames
{
    /// <summary>IFNAMSIZ - 1: the longest name in bytes.</summary>
    public const int MaxBytes = 15;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static bool IsValid(string name)
    {
        if (name is "" or "." or "..") return false;
        byte[] bytes;
        try { bytes = StrictUtf8.GetBytes(name); }
        catch (EncoderFallbackException) { return false; } // a lone surrogate is no UTF-8
        if (bytes.Length > MaxBytes) return false;
        foreach (var b in bytes)
            if (b is (byte)'/' or (byte)':' or (byte)'%' or 0x20 or 0xA0 or < 0x20 or 0x7F) return false;
        foreach (var rune in name.EnumerateRunes())
            if (IsRefusedCategory(Rune.GetUnicodeCategory(rune))) return false;
        return true;
    }

    /// <summary>ip's words for a refused name: <c>argument "a:b" is wrong: "name" not a valid ifname</c>,
    /// with <paramref name="keyword"/> the word that introduced it (name, link, dev).</summary>
    public static string Refusal(string name, string keyword) =>
        $"argument \"{Printable(name)}\" is wrong: \"{keyword}\" not a valid ifname";

    /// <summary>The name with every character that could not be seen, or that would change what is
    /// printed around it, written as an escape (\n, \t, \x00, \u202e), for messages and logs.</summary>
    public static string Printable(string? s)
    {
        s ??= ""; // a request may carry JSON null (or nothing) where a name belongs
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length;)
        {
            // a lone surrogate decodes as invalid: escaped like a control character
            bool valid = Rune.DecodeFromUtf16(s.AsSpan(i), out var rune, out int used) == System.Buffers.OperationStatus.Done;
            if (valid && (rune.Value == ' ' || !IsRefusedCategory(Rune.GetUnicodeCategory(rune)))) sb.Append(s, i, used);
            else
            {
                int v = valid ? rune.Value : s[i];
                sb.Append(v switch
                {
                    '\n' => "\\n",
                    '\t' => "\\t",
                    '\r' => "\\r",
                    < 0x100 => $"\\x{v:x2}",
                    < 0x10000 => $"\\u{v:x4}",
                    _ => $"\\U{v:x8}",
                });
            }
            i += valid ? used : 1;
        }
        return sb.ToString();
    }

    private static bool IsRefusedCategory(UnicodeCategory c) => c is UnicodeCategory.Control or UnicodeCategory.Format
        or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator or UnicodeCategory.SpaceSeparator;
}
