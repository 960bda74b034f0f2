// The interface flags ip prints between <...> (and as "flags" in -j), derived from an endpoint's
// state in the order ip's print_link_flags uses.
using Mvtap.Control;

namespace Mvtap.Cli;

internal static class LinkFlags
{
    public static List<string> Of(LinkView v)
    {
        var flags = new List<string>();
        bool lowerUp = v.AdminUp && v.Carrier;
        if (v.AdminUp && !lowerUp) flags.Add("NO-CARRIER");
        flags.Add("BROADCAST");
        flags.Add("MULTICAST");
        if (v.Allmulti > 0) flags.Add("ALLMULTI");
        if (v.Promiscuity > 0) flags.Add("PROMISC");
        if (v.AdminUp) flags.Add("UP");
        if (lowerUp) flags.Add("LOWER_UP");
        return flags;
    }

    /// <summary>The kernel's qdisc when the kernel reported one (--kernel); mvtapd's endpoints have
    /// none: ip shows "noop" for a down device, and "noqueue" for one without a queueing discipline.</summary>
    public static string Qdisc(LinkView v) => v.Qdisc ?? (v.AdminUp ? "noqueue" : "noop");
}
