// Turns the strings of a control request into the core's types (the words are Core's LinkWords),
// refusing bad values with the errno the kernel would answer (EINVAL for a bad mode, flag, MAC or name).
using Mvtap.Control;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Daemon.Lowers;

namespace Mvtap.Daemon.Links;

internal static class RequestValues
{
    public static EndpointKind Kind(string type) => type switch
    {
        LinkWords.Macvtap => EndpointKind.Macvtap,
        LinkWords.Macvlan => EndpointKind.Macvlan,
        LinkWords.Host => EndpointKind.Host,
        "" => throw new MvtapException(Errno.EINVAL, ControlRequest.NotGiven("type")),
        _ => throw new MvtapException(Errno.EOPNOTSUPP, $"link type \"{type}\" is not supported: use macvtap, macvlan or host"),
    };

    public static EndpointMode Mode(string name) =>
        LinkWords.TryParseMode(name, out var mode) ? mode : throw new MvtapException(Errno.EINVAL, $"mode \"{name}\" is unknown");

    public static EndpointFlags Flags(IEnumerable<string> names) =>
        LinkWords.TryParseFlags(names, out var flags, out var unknown) ? flags
            : throw new MvtapException(Errno.EINVAL, $"flag \"{unknown}\" is unknown");

    public static MacAddress Mac(string text)
    {
        if (!MacAddress.TryParse(text, out var mac))
            throw new MvtapException(Errno.EINVAL, $"\"{text}\" is not a MAC address");
        return mac;
    }

    public static MacaddrOperation MacaddrOp(string op) =>
        LinkWords.TryParseMacaddrOperation(op, out var operation) ? operation
            : throw new MvtapException(Errno.EINVAL, $"macaddr operation \"{op}\" is unknown");

    /// <summary>iproute2's macaddr grammar: add/del take one MAC, set takes a list.</summary>
    public static (MacAddress? single, IReadOnlyList<MacAddress>? list) Macaddrs(MacaddrOperation op, List<string>? macs)
    {
        var parsed = (macs ?? []).Select(Mac).ToList();
        return op switch
        {
            MacaddrOperation.Add or MacaddrOperation.Delete when parsed.Count == 1 => (parsed[0], null),
            MacaddrOperation.Add or MacaddrOperation.Delete =>
                throw new MvtapException(Errno.EINVAL, $"macaddr {op.Name()} takes one address"),
            MacaddrOperation.Set => (null, parsed),
            _ => (null, null),
        };
    }

    /// <summary>`guestmem`: only for a macvtap (its vhost-user attachment maps guest memory).</summary>
    public static GuestMemoryPolicy GuestMemory(string name, EndpointKind kind, string endpoint)
    {
        if (!LinkWords.TryParseGuestMemory(name, out var policy))
            throw new MvtapException(Errno.EINVAL, $"guestmem \"{name}\" is unknown: use sealed or any");
        if (kind != EndpointKind.Macvtap)
            throw new MvtapException(Errno.EINVAL, $"{endpoint} is a macvlan: guestmem applies to macvtap endpoints (vhost-user guest memory)");
        return policy;
    }

    /// <summary>The device a request is about (set, del, tap-fd): missing or null in the request is refused as `ip link del` without one is.</summary>
    public static void Given(string name)
    {
        if (name.Length == 0) throw new MvtapException(Errno.EINVAL, ControlRequest.NotGiven("dev"));
    }

    /// <summary>The name of an endpoint or of a lower, checked as the kernel's dev_valid_name and more
    /// (InterfaceNames, shared with the CLI); refused in ip's words with <paramref name="keyword"/>.</summary>
    public static void Name(string name, string keyword)
    {
        if (!InterfaceNames.IsValid(name)) throw new MvtapException(Errno.EINVAL, InterfaceNames.Refusal(name, keyword));
    }
}
