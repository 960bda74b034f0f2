// The settings `link add` and `link set` share, collected while their words are parsed; one
// parser fills this and the command-specific code turns it into a LinkAddRequest/LinkSetRequest.
namespace Mvtap.Cli;

internal sealed class LinkSettings
{
    public string? Dev;
    public string? Name;
    public string? Lower;
    public string? Type;
    public bool? Up;
    public string? Address;
    public string? Mode;
    public bool FlagsGiven;
    public readonly SortedSet<string> Flags = new(StringComparer.Ordinal);
    public uint? BcQueueLen;
    public int? BcCutoff;
    public string? MacaddrOperation;
    public List<string>? Macaddrs;
    public string? Netns;
    public string? Owner;
    public string? Group;
    public bool? SpoofCheck;
    public int? Mtu;
    public uint? TxQueueLen;
    public string? GuestMemory;
    public string? VhostUserMode;
    public string? VhostUserPath;
    public bool? HostAccess;
    /// <summary>`tap NAME`: a macvtap endpoint carried by a persistent TAP of that name (in Netns).</summary>
    public string? Tap;

    public List<string>? FlagList => FlagsGiven ? [.. Flags] : null;
}
