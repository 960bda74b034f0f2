// What the plugin does inside the container's network namespace, on the NIC mvtapd made there,
// as the reference macvlan plugin and its ipam.ConfigureIface do: arp_notify and ndisc_notify,
// the IPAM result's addresses (IPv6 enabled first, addresses kept when down), the link up,
// IPv6 duplicate address detection settled when there is an IPv6 gateway, then the routes. And
// what CHECK reads back. setns moves only this thread, for the length of each call.
using System.Net;
using System.Net.Sockets;
using Mvtap.Core.Model;
using Mvtap.Linux;
using Mvtap.Linux.Netlink;

namespace Mvtap.Cni;

internal static class ContainerInterface
{
    private static readonly TimeSpan DadSettleTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Gratuitous ARP and unsolicited neighbour advertisements when the NIC comes up or changes MAC.</summary>
    public static void SetNotify(string netns, string ifName) => NetNamespace.Run(netns, () =>
    {
        TryWriteSysctl($"net/ipv4/conf/{ifName}/arp_notify", "1");
        TryWriteSysctl($"net/ipv6/conf/{ifName}/ndisc_notify", "1");
    });

    public static void SetUp(string netns, string ifName) => NetNamespace.Run(netns, () =>
    {
        using var rtnl = new Rtnetlink();
        rtnl.SetUp(ifName, true);
    });

    /// <summary>Applies the addresses of <paramref name="result"/> meant for interface <paramref name="index"/>
    /// (named <paramref name="ifName"/>), brings it up and adds the routes.</summary>
    public static void Configure(string netns, string ifName, int index, CniResult result) => NetNamespace.Run(netns, () =>
    {
        using var rtnl = new Rtnetlink();
        var link = rtnl.GetLink(ifName) ?? throw new CniError(CniError.Internal, $"failed to lookup \"{ifName}\" in the container");
        IPAddress? v4gw = null, v6gw = null;
        bool ipv6Enabled = false;
        foreach (var ip in result.Ips)
        {
            if (ip.Interface != index) continue;
            if (!ip.IsV4 && !ipv6Enabled)
            {
                foreach (var dev in new[] { "lo", ifName })
                    if (ReadSysctl($"net/ipv6/conf/{dev}/disable_ipv6") is { } v && v != "0")
                        WriteSysctl($"net/ipv6/conf/{dev}/disable_ipv6", "0");
                WriteSysctl($"net/ipv6/conf/{ifName}/keep_addr_on_down", "1");
                ipv6Enabled = true;
            }
            Try(() => rtnl.AddAddress(link.Index, ip.Address.Address, ip.Address.PrefixLength), $"failed to add IP addr {ip.Address} to \"{ifName}\"");
            if (ip.Gateway is { } gw)
            {
                if (gw.AddressFamily == AddressFamily.InterNetwork) v4gw ??= gw;
                else v6gw ??= gw;
            }
        }
        Try(() => rtnl.SetUp(ifName, true), $"failed to set \"{ifName}\" UP");
        if (v6gw is not null) SettleAddresses(rtnl, link.Index, ifName);
        foreach (var r in result.Routes)
        {
            bool v4 = r.Dst.Address.AddressFamily == AddressFamily.InterNetwork;
            var request = new RouteRequest
            {
                Destination = r.Dst.Address,
                PrefixLength = r.Dst.PrefixLength,
                Gateway = r.Gw ?? (v4 ? v4gw : v6gw),
                OutIndex = link.Index,
                Priority = (uint?)r.Priority,
                Table = (uint?)r.Table,
                Scope = (byte?)r.Scope,
                Mtu = (uint?)r.Mtu,
                AdvMss = (uint?)r.AdvMss,
            };
            try
            {
                rtnl.AddRoute(request);
            }
            catch (RtnetlinkException e) when (e.Errno == (int)Errno.EEXIST && r.Dst.PrefixLength == 0)
            {
                // another network already set the default route (SPEC 0.4.0 notes): skip ours
            }
            catch (RtnetlinkException e)
            {
                throw new CniError(CniError.Internal, $"failed to add route '{r.Dst} via {request.Gateway} dev {ifName}'", e.Message);
            }
        }
    });

    /// <summary>The NIC, its addresses and the namespace's routes, as CHECK compares them; a null link when it is gone.</summary>
    public static (LinkInfo? Link, IReadOnlyList<AddressInfo> Addresses, IReadOnlyList<RouteInfo> Routes) Inspect(string netns, string ifName) =>
        NetNamespace.Run(netns, () =>
        {
            using var rtnl = new Rtnetlink();
            var link = rtnl.GetLink(ifName);
            return link is null ? (null, [], []) : (link, rtnl.GetAddresses(link.Index), rtnl.GetRoutes());
        });

    // ip.SettleAddresses: wait until no address of the link is tentative (DAD done), or fail on DAD failure.
    private static void SettleAddresses(Rtnetlink rtnl, int index, string ifName)
    {
        var deadline = DateTime.UtcNow + DadSettleTimeout;
        while (true)
        {
            var addresses = rtnl.GetAddresses(index);
            if (addresses.FirstOrDefault(a => (a.Flags & Mvtap.Linux.Interop.Rtnl.IFA_F_DADFAILED) != 0) is { } failed)
                throw new CniError(CniError.Internal, $"link {ifName} has address {failed.Address} in DADFAILED state");
            if (!addresses.Any(a => a.IsTentative)) return;
            if (DateTime.UtcNow > deadline)
                throw new CniError(CniError.Internal, $"link {ifName} still has tentative addresses after {DadSettleTimeout.TotalSeconds} s");
            Thread.Sleep(50);
        }
    }

    private static void Try(Action action, string what)
    {
        try { action(); }
        catch (RtnetlinkException e) { throw new CniError(CniError.Internal, what, e.Message); }
    }

    // /proc/sys/net resolves against the calling thread's network namespace (the one setns entered).
    private static string? ReadSysctl(string key)
    {
        try { return File.ReadAllText("/proc/sys/" + key).Trim(); }
        catch (IOException) { return null; }
    }

    private static void WriteSysctl(string key, string value)
    {
        try { File.WriteAllText("/proc/sys/" + key, value); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CniError(CniError.Internal, $"failed to set sysctl {key}={value}", e.Message);
        }
    }

    private static void TryWriteSysctl(string key, string value)
    {
        try { File.WriteAllText("/proc/sys/" + key, value); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* as the reference plugin: best effort */ }
    }
}
