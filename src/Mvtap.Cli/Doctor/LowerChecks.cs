// `mvtap doctor`'s checks of the lower devices: those mvtapd has (asked over the control socket,
// when it answers) and those named on the command line. For each: it exists, is up with carrier,
// and was not set promiscuous by hand (then every frame on its wire is copied into mvtapd); its
// offloads (LRO merges frames that are then forwarded as one; without TSO the kernel segments
// mvtap's 64 KB TCP frames in software); and no kernel macvlan or macvtap sits on it too
// (the kernel's then claims frames for its MACs beside mvtap, and the two never see each other's
// endpoints as a bridge-mode neighbour).
using Mvtap.Control;
using Mvtap.Linux;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

namespace Mvtap.Cli.Doctor;

internal static class LowerChecks
{
    /// <summary>The daemon's finding, and the lowers (with the namespace each is in) to check.</summary>
    public static (DoctorFinding Daemon, List<(string Lower, string? Netns)> Lowers) Collect(DoctorSettings s)
    {
        var lowers = s.Lowers.Select(l => (l, s.Netns)).ToList();
        string socket = ControlPaths.SocketPath(s.RunDir);
        DoctorFinding daemon;
        try
        {
            var response = new ControlClient(socket, TimeSpan.FromSeconds(5)).Send(new LinkShowRequest());
            var links = response.Links ?? [];
            foreach (var v in links)
            {
                var lower = (v.Lower, v.LowerState == "moved" ? v.LowerNetns : s.Netns);
                if (!lowers.Contains(lower)) lowers.Add(lower);
            }
            daemon = response.Ok
                ? DoctorFinding.Ok("mvtapd", $"answers at {socket}: {links.Count} endpoint(s) on {links.Select(v => v.Lower).Distinct().Count()} lower(s)")
                : DoctorFinding.Warn("mvtapd", $"refused link show at {socket}: {response.Error?.Message}; its lowers were not checked", "run mvtap doctor as root or in the socket group");
        }
        catch (ControlProtocolException e)
        {
            daemon = DoctorFinding.Warn("mvtapd", $"{e.Message}; its lowers were not checked",
                "start mvtapd (systemctl start mvtapd), or name the lowers: mvtap doctor dev LOWER");
        }
        return (daemon, lowers);
    }

    public static IEnumerable<DoctorFinding> Check(string lower, string? netns)
    {
        string where = netns is null ? lower : $"{lower} (netns {netns})";
        IReadOnlyList<LinkInfo> links;
        try { links = InNamespace(netns, () => { using var rt = new Rtnetlink(); return rt.GetLinks(); }); }
        catch (Exception e) when (e is SystemCallException or RtnetlinkException or IOException)
        {
            return [DoctorFinding.Error($"lower {lower}", $"cannot list the links of {(netns is null ? "this namespace" : $"netns {netns}")} ({e.Message})", "check that the namespace exists: ip netns list")];
        }
        var link = links.FirstOrDefault(l => l.Name == lower);
        if (link is null)
            return [DoctorFinding.Error($"lower {lower}", $"{where} does not exist: its endpoints have no carrier", $"create {lower}, or delete its endpoints (mvtap link del)")];
        return [State(link, where), Offloads(link, netns, where), KernelMacvlans(link, links, where)];
    }

    private static DoctorFinding State(LinkInfo link, string where)
    {
        string check = $"lower {link.Name}";
        if ((link.Flags & Rtnl.IFF_UP) == 0)
            return DoctorFinding.Warn(check, $"{where} is down: its endpoints have no carrier", $"ip link set {link.Name} up");
        if ((link.Flags & Rtnl.IFF_LOWER_UP) == 0)
            return DoctorFinding.Warn(check, $"{where} has no carrier: neither have its endpoints", $"check the cable or the peer of {link.Name}");
        // ifi_flags carries IFF_PROMISC only when set by hand (ip link set promisc on); the counter also
        // holds what memberships took: mvtapd's endpoint MACs on a NIC without a unicast filter, tcpdump
        if ((link.Flags & Rtnl.IFF_PROMISC) != 0)
            return DoctorFinding.Warn(check, $"{where} was set promiscuous by hand: every frame on its wire is copied into mvtapd and dropped there unless it is for an endpoint",
                $"ip link set {link.Name} promisc off (mvtapd takes what its endpoints need itself)");
        return DoctorFinding.Ok(check, $"{where} up, carrier, promiscuity {link.Promiscuity} (from memberships: endpoint MACs on a NIC without a unicast filter, packet captures)");
    }

    private static DoctorFinding Offloads(LinkInfo link, string? netns, string where)
    {
        string check = $"offloads {link.Name}";
        uint flags, tso;
        try
        {
            (flags, tso) = InNamespace(netns, () => (Ethtool.Get(link.Name, Ethtool.ETHTOOL_GFLAGS), Ethtool.Get(link.Name, Ethtool.ETHTOOL_GTSO)));
        }
        catch (SystemCallException e)
        {
            return DoctorFinding.Ok(check, $"{where} reports no offloads ({e.Message})");
        }
        if ((flags & Ethtool.ETH_FLAG_LRO) != 0)
            return DoctorFinding.Warn(check, $"{where} has large-receive-offload on: frames it merges reach endpoints as one frame, not as the sender sent them (the kernel turns LRO off on a device it forwards from)",
                $"ethtool -K {link.Name} lro off");
        if (tso == 0)
            return DoctorFinding.Warn(check, $"{where} has tcp-segmentation-offload off: the kernel segments mvtap's 64 KB TCP frames in software",
                $"ethtool -K {link.Name} tso on");
        return DoctorFinding.Ok(check, $"{where} lro off, tso on");
    }

    private static DoctorFinding KernelMacvlans(LinkInfo link, IReadOnlyList<LinkInfo> links, string where)
    {
        string check = $"kernel_macvlan {link.Name}";
        var uppers = links.Where(l => l.Kind is "macvlan" or "macvtap" && l.Link == link.Index && l.LinkNetNsId is null).ToList();
        if (uppers.Count == 0) return DoctorFinding.Ok(check, $"no kernel macvlan or macvtap on {where}");
        string names = string.Join(", ", uppers.Select(u => $"{u.Name} ({u.Kind})"));
        return DoctorFinding.Error(check, $"the kernel's {names} on {where} too: it takes the frames for its MACs beside mvtap, and its endpoints and mvtap's never reach each other as neighbours",
            $"move them to mvtap (mvtap link add link {link.Name} ...) and delete them (ip link del {uppers[0].Name}), or give mvtap another lower");
    }

    private static T InNamespace<T>(string? netns, Func<T> action) => netns is null ? action() : NetNamespace.Run(netns, action);
}
