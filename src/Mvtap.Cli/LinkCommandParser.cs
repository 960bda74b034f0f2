// The hand-written `ip link` grammar: `mvtap link {add|set|delete|show|help} ...`. Keywords are
// tested in ip's order (iplink.c's iplink_parse, then iplink_macvlan.c's macvlan_parse_opt),
// with strcmp where ip uses strcmp and prefix matching where ip uses matches(); errors carry
// ip's wording. Add and set accept every keyword before or after `type`. The words of types,
// modes, flags, macaddr operations and guestmem are Core's LinkWords; hostaccess is mvtap's own; `vhost-user`
// is VhostUserArgument's.
using Mvtap.Control;
using Mvtap.Core.Model;

namespace Mvtap.Cli;

internal static class LinkCommandParser
{
    public const string HelpCommand = "mvtap link help";

    /// <summary>Parses the words after `link`. No words means `show`, as with ip.</summary>
    public static LinkCommand Parse(IReadOnlyList<string> words)
    {
        if (words.Count == 0) return new LinkShowCommand(null);
        string verb = words[0];
        var rest = words.Skip(1).ToList();
        if (Keyword.Matches(verb, "add")) return ParseAdd(rest);
        if (Keyword.Matches(verb, "set") || Keyword.Matches(verb, "change")) return ParseSet(rest);
        if (Keyword.Matches(verb, "delete")) return ParseDel(rest);
        if (Keyword.Matches(verb, "show") || Keyword.Matches(verb, "lst") || Keyword.Matches(verb, "list"))
            return ParseShow(rest);
        if (Keyword.Matches(verb, "help")) return new LinkHelpCommand();
        throw UsageErrors.UnknownCommand(verb, HelpCommand);
    }

    private static LinkCommand ParseAdd(List<string> words)
    {
        var s = new LinkSettings();
        if (!ParseSettings(words, s, creating: true)) return new LinkHelpCommand();
        if (s.Lower is null) throw UsageErrors.Required("link");
        if (s.Type is null) throw UsageErrors.Required("type");
        return new LinkAddCommand(new LinkAddRequest
        {
            Lower = s.Lower,
            Name = s.Name ?? s.Dev,
            Type = s.Type,
            Mode = s.Mode,
            Flags = s.FlagList,
            Address = s.Address,
            BcQueueLen = s.BcQueueLen,
            BcCutoff = s.BcCutoff,
            MacaddrOperation = s.MacaddrOperation,
            Macaddrs = s.Macaddrs,
            Owner = s.Owner,
            Group = s.Group,
            SpoofCheck = s.SpoofCheck,
            Mtu = s.Mtu,
            TxQueueLen = s.TxQueueLen,
            Netns = s.Netns,
            GuestMemory = s.GuestMemory,
            Up = s.Up,
            VhostUserMode = s.VhostUserMode,
            VhostUserPath = s.VhostUserPath,
            HostAccess = s.HostAccess,
            TapName = s.Tap,
        });
    }

    private static LinkCommand ParseSet(List<string> words)
    {
        var s = new LinkSettings();
        if (!ParseSettings(words, s, creating: false)) return new LinkHelpCommand();
        string? dev = s.Dev;
        string? newName = s.Name;
        if (dev is null) { dev = newName; newName = null; }      // `set name X` names the device, as in ip
        if (dev is null) throw UsageErrors.Required("dev");
        if (newName == dev) newName = null;
        return new LinkSetCommand(new LinkSetRequest
        {
            Name = dev,
            NewName = newName,
            Up = s.Up,
            Address = s.Address,
            Mode = s.Mode,
            Flags = s.FlagList,
            BcQueueLen = s.BcQueueLen,
            BcCutoff = s.BcCutoff,
            Netns = s.Netns,
            MacaddrOperation = s.MacaddrOperation,
            Macaddrs = s.Macaddrs,
            Owner = s.Owner,
            Group = s.Group,
            SpoofCheck = s.SpoofCheck,
            Mtu = s.Mtu,
            TxQueueLen = s.TxQueueLen,
            GuestMemory = s.GuestMemory,
            HostAccess = s.HostAccess,
        });
    }

    /// <summary>The keyword loop shared by add and set. Returns false if `help` was asked for.</summary>
    private static bool ParseSettings(List<string> words, LinkSettings s, bool creating)
    {
        var c = new ArgumentCursor(words);
        for (; !c.AtEnd; c.Advance())
        {
            string w = c.Current;
            if (w == "up") s.Up = true;
            else if (w == "down") s.Up = false;
            else if (w == "name")
            {
                string v = c.NextArg();
                if (s.Name is not null) throw UsageErrors.Duplicate("name", v);
                s.Name = ArgumentValues.ParseInterfaceName(v, "name");
            }
            else if (Keyword.Matches(w, "link"))
            {
                string v = c.NextArg();
                if (!creating) throw UsageErrors.InvalidArgument(v, "the lower device of an endpoint cannot be changed");
                if (s.Lower is not null) throw UsageErrors.Duplicate("link", v);
                s.Lower = ArgumentValues.ParseInterfaceName(v, "link", naming: false);
            }
            else if (Keyword.Matches(w, "address"))
            {
                string v = c.NextArg();
                if (s.Address is not null) throw UsageErrors.Duplicate("address", v);
                s.Address = ArgumentValues.ParseUnicastMac(v);
            }
            else if (Keyword.Matches(w, "txqueuelen") || w == "qlen" || Keyword.Matches(w, "txqlen"))
            {
                string v = c.NextArg();
                if (s.TxQueueLen is not null) throw UsageErrors.Duplicate("txqueuelen", v);
                if (!ArgumentValues.TryParseUInt32(v, out var q)) throw UsageErrors.InvalidArgument(v, "Invalid \"txqueuelen\" value");
                s.TxQueueLen = q;
            }
            else if (w == "mtu")
            {
                string v = c.NextArg();
                if (s.Mtu is not null) throw UsageErrors.Duplicate("mtu", v);
                if (!ArgumentValues.TryParseInt32(v, out var m) || m < 0) throw UsageErrors.InvalidArgument(v, "Invalid \"mtu\" value");
                s.Mtu = m;
            }
            else if (w == "netns")
            {
                string v = c.NextArg();
                if (s.Netns is not null) throw UsageErrors.Duplicate("netns", v);
                if (v.Length == 0 || v.Contains('/')) throw UsageErrors.InvalidArgument(v, "Invalid \"netns\" value");
                s.Netns = v;
            }
            else if (Keyword.Matches(w, "type"))
            {
                string v = c.NextArg();
                if (s.Type is not null) throw UsageErrors.Duplicate("type", v);
                if (!LinkWords.IsLinkType(v)) throw UsageErrors.UnknownType(v);
                s.Type = v;
            }
            else if (w == "group")
            {
                string v = c.NextArg();
                if (s.Group is not null) throw UsageErrors.Duplicate("group", v);
                s.Group = AccountNumber(NonEmpty(v, "group"), "group");
            }
            else if (Keyword.Matches(w, "mode"))
            {
                string v = c.NextArg();
                if (s.Mode is not null) throw UsageErrors.Duplicate("mode", v);
                if (!LinkWords.TryParseMode(v, out _)) throw UsageErrors.ArgumentMustBeOneOf("mode", LinkWords.Modes, v);
                s.Mode = v;
            }
            else if (Keyword.Matches(w, "flag"))
            {
                string v = c.NextArg();
                bool none = v == "null";
                if (!none && !LinkWords.TryParseFlag(v, out _)) throw UsageErrors.ArgumentMustBeOneOf("flag", [.. LinkWords.Flags, "null"], v);
                s.FlagsGiven = true;
                if (!none) s.Flags.Add(v);
            }
            else if (Keyword.Matches(w, "macaddr"))
            {
                if (s.MacaddrOperation is not null) throw UsageErrors.Duplicate("macaddr", c.TryPeekNext(out var n) ? n : "");
                ParseMacaddr(c, s, creating);
            }
            else if (Keyword.Matches(w, LinkWords.NoPromisc)) { s.FlagsGiven = true; s.Flags.Add(LinkWords.NoPromisc); }
            else if (Keyword.Matches(w, LinkWords.NoDst)) { s.FlagsGiven = true; s.Flags.Add(LinkWords.NoDst); }
            else if (Keyword.Matches(w, "bcqueuelen"))
            {
                string v = c.NextArg();
                if (s.BcQueueLen is not null) throw UsageErrors.Duplicate("bcqueuelen", v);
                if (!ArgumentValues.TryParseUInt32(v, out var q))
                    throw UsageErrors.ArgumentMustBe("bcqueuelen", "a positive integer [0-4294967295]", v);
                s.BcQueueLen = q;
            }
            else if (Keyword.Matches(w, "bclim") || Keyword.Matches(w, "bc_cutoff"))
            {
                string keyword = Keyword.Matches(w, "bclim") ? "bclim" : "bc_cutoff";
                string v = c.NextArg();
                if (s.BcCutoff is not null) throw UsageErrors.Duplicate(keyword, v);
                if (!ArgumentValues.TryParseInt32(v, out var cutoff))
                    throw UsageErrors.ArgumentMustBe(keyword, "an integer [-2147483648-2147483647]", v);
                s.BcCutoff = cutoff;
            }
            else if (Keyword.Matches(w, "owner"))
            {
                string v = c.NextArg();
                if (s.Owner is not null) throw UsageErrors.Duplicate("owner", v);
                s.Owner = AccountNumber(NonEmpty(v, "owner"), "user");
            }
            else if (Keyword.Matches(w, "spoofchk"))
            {
                string v = c.NextArg();
                if (s.SpoofCheck is not null) throw UsageErrors.Duplicate("spoofchk", v);
                s.SpoofCheck = ArgumentValues.ParseOnOff("spoofchk", v);
            }
            else if (w == "hostaccess")
            {
                // mvtap's own keyword (the host port's reach), matched whole like guestmem
                string v = c.NextArg();
                if (s.HostAccess is not null) throw UsageErrors.Duplicate("hostaccess", v);
                s.HostAccess = ArgumentValues.ParseOnOff("hostaccess", v);
            }
            else if (w == "guestmem")
            {
                // mvtap's own keyword, matched whole so that it never takes a device's name
                string v = c.NextArg();
                if (s.GuestMemory is not null) throw UsageErrors.Duplicate("guestmem", v);
                if (!LinkWords.TryParseGuestMemory(v, out _)) throw UsageErrors.ArgumentMustBeOneOf("guestmem", LinkWords.GuestMemoryPolicies, v);
                s.GuestMemory = v;
            }
            else if (w == VhostUserArgument.Keyword) VhostUserArgument.Parse(c, s, creating);
            else if (w == "tap")
            {
                // mvtap's own keyword, matched whole (a device may be called t or ta)
                string v = c.NextArg();
                if (!creating) throw UsageErrors.InvalidArgument(v, "the tap of an endpoint cannot be changed");
                if (s.Tap is not null) throw UsageErrors.Duplicate("tap", v);
                s.Tap = ArgumentValues.ParseInterfaceName(v, "tap");
            }
            else if (Keyword.Matches(w, "help")) return false;
            else
            {
                bool explicitDev = w == "dev";
                if (!explicitDev && s.Type is not null) throw UsageErrors.UnknownOption(s.Type, w);
                string v = explicitDev ? c.NextArg() : w;
                if (s.Dev is not null || (creating && s.Name is not null)) throw UsageErrors.DuplicateOrGarbage("dev", v);
                s.Dev = ArgumentValues.ParseInterfaceName(v, "dev", naming: creating);
            }
        }

        if (creating && s.Name is not null && s.Dev is not null && s.Name != s.Dev)
            throw new CommandLineException("both \"name\" and \"dev\" cannot be used when creating devices.");
        if (s.Flags.Contains(LinkWords.NoPromisc) && s.Mode != EndpointMode.Passthru.Name())
            throw new CommandLineException($"{s.Type ?? LinkWords.Macvlan}: nopromisc flag only valid in passthru mode");
        return true;
    }

    /// <summary>`macaddr {add|del} MAC... | set [MAC...] | flush`; when creating, `macaddr MAC...` means set.</summary>
    private static void ParseMacaddr(ArgumentCursor c, LinkSettings s, bool creating)
    {
        string op = c.NextArg();
        var macs = new List<string>();
        bool known = LinkWords.TryParseMacaddrOperation(op, out var operation);
        if (known && operation is MacaddrOperation.Add or MacaddrOperation.Delete)
        {
            macs.Add(ArgumentValues.ParseUnicastMac(c.NextArg()));
            TakeMoreMacs(c, macs);
        }
        else if (known && operation == MacaddrOperation.Set) TakeMoreMacs(c, macs);
        else if (known && operation == MacaddrOperation.Flush) { }
        else if (creating && Core.Frames.MacAddress.TryParse(op, out _))
        {
            macs.Add(ArgumentValues.ParseUnicastMac(op));
            TakeMoreMacs(c, macs);
            op = MacaddrOperation.Set.Name();
            operation = MacaddrOperation.Set;
        }
        else throw UsageErrors.ArgumentMustBeOneOf("macaddr", LinkWords.MacaddrOperations, op);

        if (creating && operation is MacaddrOperation.Delete or MacaddrOperation.Flush)
            throw UsageErrors.InvalidArgument(op, "a new link has no source addresses to delete or flush");
        s.MacaddrOperation = op;
        s.Macaddrs = macs;
    }

    /// <summary>Consumes the following words while they are MAC addresses (ip's `macaddr set` loop).</summary>
    private static void TakeMoreMacs(ArgumentCursor c, List<string> macs)
    {
        while (c.TryPeekNext(out var next) && Core.Frames.MacAddress.TryParse(next, out _))
        {
            c.Advance();
            macs.Add(ArgumentValues.ParseUnicastMac(next));
        }
    }

    private static LinkCommand ParseDel(List<string> words)
    {
        string? dev = null;
        var c = new ArgumentCursor(words);
        for (; !c.AtEnd; c.Advance())
        {
            string w = c.Current;
            if (Keyword.Matches(w, "type"))
            {
                string v = c.NextArg();
                if (!LinkWords.IsLinkType(v)) throw UsageErrors.UnknownType(v);
            }
            else if (Keyword.Matches(w, "help")) return new LinkHelpCommand();
            else
            {
                string v = w == "dev" ? c.NextArg() : w;
                if (dev is not null) throw UsageErrors.DuplicateOrGarbage("dev", v);
                dev = ArgumentValues.ParseInterfaceName(v, "dev", naming: false);
            }
        }
        if (dev is null) throw UsageErrors.Required("dev");
        return new LinkDelCommand(new LinkDelRequest { Name = dev });
    }

    private static LinkCommand ParseShow(List<string> words)
    {
        string? dev = null, type = null;
        bool upOnly = false;
        var c = new ArgumentCursor(words);
        for (; !c.AtEnd; c.Advance())
        {
            string w = c.Current;
            if (w == "up") upOnly = true;
            else if (Keyword.Matches(w, "type"))
            {
                string v = c.NextArg();
                if (type is not null) throw UsageErrors.Duplicate("type", v);
                type = v;
            }
            else if (Keyword.Matches(w, "help")) return new LinkHelpCommand();
            else
            {
                string v = w == "dev" ? c.NextArg() : w;
                if (dev is not null) throw UsageErrors.DuplicateOrGarbage("dev", v);
                dev = ArgumentValues.ParseInterfaceName(v, "dev", naming: false);
            }
        }
        return new LinkShowCommand(dev, upOnly, type);
    }

    /// <summary>Refuses a number that names no account (4294967295 is (uid_t)-1), in ip's words.</summary>
    private static string AccountNumber(string v, string what) =>
        AccountNumbers.Refusal(what, v) is { } refusal ? throw new CommandLineException(refusal) : v;

    private static string NonEmpty(string v, string keyword) =>
        v.Length > 0 ? v : throw UsageErrors.InvalidArgument(v, $"\"{keyword}\" must not be empty");
}
