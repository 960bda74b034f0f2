// The words of the link vocabulary as `ip link` and mvtap's control protocol spell them: link
// types (the host port's too), modes, flags, source-list operations, and guest-memory policies. Parsed and printed here
// only; the CLI's parser, its kernel backend, mvtapd's request values and views, and the CNI
// plugin all use these. Each caller words its own refusal (ip's text on the command line, an
// errno and a message from mvtapd), listing the words from here.
namespace Mvtap.Core.Model;

public static class LinkWords
{
    public const string Macvtap = "macvtap";
    public const string Macvlan = "macvlan";
    /// <summary>The host port's link type (`type host`) and the info_kind `link show -d -j` gives it.</summary>
    public const string Host = "host";
    public const string HostInfoKind = "mvtap-host";
    public const string NoPromisc = "nopromisc";
    public const string NoDst = "nodst";

    /// <summary>The modes in the order ip lists them (iplink_macvlan.c's explain).</summary>
    public static IReadOnlyList<string> Modes { get; } = ["private", "vepa", "bridge", "passthru", "source"];
    public static IReadOnlyList<string> Flags { get; } = [NoPromisc, NoDst];
    /// <summary>`macaddr {add|del|set|flush}`, in ip's order.</summary>
    public static IReadOnlyList<string> MacaddrOperations { get; } = ["add", "del", "set", "flush"];
    public static IReadOnlyList<string> GuestMemoryPolicies { get; } = ["sealed", "any"];

    // the values the words above stand for, in the same order
    private static readonly EndpointMode[] ModeValues =
        [EndpointMode.Private, EndpointMode.Vepa, EndpointMode.Bridge, EndpointMode.Passthru, EndpointMode.Source];
    private static readonly MacaddrOperation[] MacaddrOperationValues =
        [MacaddrOperation.Add, MacaddrOperation.Delete, MacaddrOperation.Set, MacaddrOperation.Flush];

    /// <summary>The link types mvtap makes: "macvtap", "macvlan" or "host".</summary>
    public static bool IsLinkType(string word) => word is Macvtap or Macvlan or Host;

    public static string Name(this EndpointMode mode) => Word(Modes, ModeValues, mode, (uint)mode);

    public static bool TryParseMode(string word, out EndpointMode mode) => TryFind(Modes, ModeValues, word, out mode);

    public static bool TryParseFlag(string word, out EndpointFlags flag)
    {
        flag = word switch
        {
            NoPromisc => EndpointFlags.NoPromisc,
            NoDst => EndpointFlags.NoDst,
            _ => EndpointFlags.None,
        };
        return flag != EndpointFlags.None;
    }

    /// <summary>The flags word of a list of flag words; false with the first unknown word in <paramref name="unknown"/>.</summary>
    public static bool TryParseFlags(IEnumerable<string> words, out EndpointFlags flags, out string? unknown)
    {
        flags = EndpointFlags.None;
        unknown = null;
        foreach (var word in words)
        {
            if (!TryParseFlag(word, out var flag)) { unknown = word; return false; }
            flags |= flag;
        }
        return true;
    }

    /// <summary>The words of the flags set in <paramref name="flags"/>, nopromisc first (as ip prints them).</summary>
    public static List<string> Names(this EndpointFlags flags)
    {
        var list = new List<string>();
        if ((flags & EndpointFlags.NoPromisc) != 0) list.Add(NoPromisc);
        if ((flags & EndpointFlags.NoDst) != 0) list.Add(NoDst);
        return list;
    }

    public static string Name(this MacaddrOperation op) => Word(MacaddrOperations, MacaddrOperationValues, op, (uint)op);

    public static bool TryParseMacaddrOperation(string word, out MacaddrOperation op) =>
        TryFind(MacaddrOperations, MacaddrOperationValues, word, out op);

    /// <summary>"sealed" or "any", as `guestmem` takes and `link show -d` prints it.</summary>
    public static string Name(this GuestMemoryPolicy policy) => policy == GuestMemoryPolicy.Any ? "any" : "sealed";

    public static bool TryParseGuestMemory(string? word, out GuestMemoryPolicy policy)
    {
        policy = word == "any" ? GuestMemoryPolicy.Any : GuestMemoryPolicy.Sealed;
        return word is "sealed" or "any";
    }

    private static string Word<T>(IReadOnlyList<string> words, T[] values, T value, uint number)
    {
        int i = Array.IndexOf(values, value);
        return i >= 0 ? words[i] : $"unknown({number})";
    }

    private static bool TryFind<T>(IReadOnlyList<string> words, T[] values, string word, out T value)
    {
        for (int i = 0; i < values.Length; i++)
            if (words[i] == word) { value = values[i]; return true; }
        value = default!;
        return false;
    }
}
