// The fixed addresses of the randomized scenarios, and their names in what the tester prints: the
// lower's MAC, outside hosts, MACs for source lists, the endpoints' MACs and the multicast groups.
// Fixed, so the kernel's topology and mvtap's see byte-identical frames.
using Mvtap.Core.Frames;
using Mvtap.Datapath.Tests.E2e;

namespace Mvtap.Conformance.Tests;

internal static class Addresses
{
    public static readonly MacAddress Lower = DifferentialTopology.LowerMac;
    public static readonly MacAddress Outside1 = DifferentialTopology.External;
    public static readonly MacAddress Outside2 = E2eFrames.Mac(0, 0x0f);
    public static readonly MacAddress Unknown = DifferentialTopology.Unknown;
    /// <summary>The source of the frames that probe the kernel's multicast filters; in no list.</summary>
    public static readonly MacAddress Prober = E2eFrames.Mac(0, 0x0d);
    public static readonly MacAddress[] Listed = [E2eFrames.Mac(2, 1), E2eFrames.Mac(2, 2), E2eFrames.Mac(2, 3)];

    /// <summary>224.0.0.1's MAC: every interface with IPv4 joins it when it comes up, on both sides.</summary>
    public static readonly MacAddress AllHosts = MacAddress.Parse("01:00:5e:00:00:01");
    /// <summary>A group no scenario uses: accepted only by an ALLMULTI or PROMISC endpoint.</summary>
    public static readonly MacAddress NeverJoined = MacAddress.Parse("01:00:5e:7f:7f:7f");
    /// <summary>The PAUSE frames' destination (IEEE 802.3 annex 31B).</summary>
    public static readonly MacAddress PauseGroup = MacAddress.Parse("01:80:c2:00:00:01");

    public static readonly MacAddress[] Groups =
    [
        MacAddress.Parse("01:00:5e:01:02:03"), MacAddress.Parse("01:00:5e:0a:0b:0c"), MacAddress.Parse("01:00:5e:7f:00:01"),
        MacAddress.Parse("33:33:00:00:00:fb"), MacAddress.Parse("33:33:ff:00:12:34"), MacAddress.Parse("01:80:c2:00:00:0e"),
        AllHosts,
    ];

    public static MacAddress OfEndpoint(int index) => E2eFrames.Mac(1, index + 1);

    /// <summary>A short name for a MAC the scenarios use, or the MAC itself.</summary>
    public static string Name(MacAddress mac)
    {
        if (mac.IsBroadcast) return "ff:ff:ff:ff:ff:ff";
        if (mac == Lower) return "lower";
        if (mac == Outside1) return "out1";
        if (mac == Outside2) return "out2";
        if (mac == Unknown) return "unknown";
        if (mac == Prober) return "prober";
        int x = Array.IndexOf(Listed, mac);
        if (x >= 0) return $"x{x + 1}";
        if ((mac.Value >> 8) == (E2eFrames.Mac(1, 0).Value >> 8) && (mac.Value & 0xFF) is >= 1 and <= 16) return $"e{(mac.Value & 0xFF) - 1}";
        return mac.ToString();
    }

    /// <summary>The MAC with its short name, e.g. "02:00:00:00:01:02(e1)".</summary>
    public static string Show(MacAddress mac)
    {
        string name = Name(mac);
        return name == mac.ToString() || mac.IsBroadcast ? name : $"{mac}({name})";
    }
}
