// The five macvlan modes with the uapi values of enum macvlan_mode (spec 1.1). They are bit
// values because the kernel's flood uses them as a mask (spec 3.2, MulticastRx). Also the
// flags and source-list operations; their words are in LinkWords.
namespace Mvtap.Core.Model;

[Flags]
public enum EndpointMode : uint
{
    Private = 1,
    Vepa = 2,
    Bridge = 4,
    Passthru = 8,
    Source = 16,
}

/// <summary>IFLA_MACVLAN_FLAGS bits (spec 1.1).</summary>
[Flags]
public enum EndpointFlags : ushort
{
    None = 0,
    NoPromisc = 1,
    NoDst = 2,
}

/// <summary>enum macvlan_macaddr_mode (spec 1.1): the source-list operations.</summary>
public enum MacaddrOperation : uint
{
    Add = 0,
    Delete = 1,
    Flush = 2,
    Set = 3,
}

public static class EndpointModes
{
    /// <summary>True for exactly one of the five defined values (spec 6: MODE 3 or 32 is EINVAL).</summary>
    public static bool IsDefined(EndpointMode mode) =>
        mode is EndpointMode.Private or EndpointMode.Vepa or EndpointMode.Bridge or EndpointMode.Passthru or EndpointMode.Source;
}
