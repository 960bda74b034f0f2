// Routes through rtnetlink (RTM_NEWROUTE, RTM_GETROUTE): the routes of a CNI plugin's IPAM result
// in a container's namespace, reading them back for CHECK, and the default route's interface
// (what the reference macvlan plugin takes as master when none is given).
using System.Net;
using System.Net.Sockets;
using Mvtap.Linux.Interop;

namespace Mvtap.Linux.Netlink;

/// <summary>A route to add; null fields are left to the kernel (table main, scope link without a gateway).</summary>
public sealed record RouteRequest
{
    public required IPAddress Destination { get; init; }
    public required int PrefixLength { get; init; }
    public IPAddress? Gateway { get; init; }
    public int OutIndex { get; init; }
    public uint? Priority { get; init; }
    public uint? Table { get; init; }
    public byte? Scope { get; init; }
    public uint? Mtu { get; init; }
    public uint? AdvMss { get; init; }
}

/// <summary>One route as RTM_GETROUTE reports it.</summary>
public sealed record RouteInfo(IPAddress Destination, int PrefixLength, IPAddress? Gateway, int? OutIndex, uint Table, byte Scope, uint? Priority);

public sealed partial class Rtnetlink
{
    /// <summary>`ip route add`: fails with EEXIST when the same route is there.</summary>
    public void AddRoute(RouteRequest r)
    {
        bool v4 = r.Destination.AddressFamily == AddressFamily.InterNetwork;
        uint table = r.Table ?? Rtnl.RT_TABLE_MAIN;
        var b = new NetlinkMessageBuilder(Rtnl.RTM_NEWROUTE, NetlinkAbi.NLM_F_REQUEST | NetlinkAbi.NLM_F_CREATE | NetlinkAbi.NLM_F_EXCL)
            .Struct(new RtMsg
            {
                Family = v4 ? Rtnl.AF_INET : Rtnl.AF_INET6,
                DstLength = (byte)r.PrefixLength,
                Table = table < 256 ? (byte)table : Rtnl.RT_TABLE_UNSPEC,
                Protocol = Rtnl.RTPROT_BOOT,
                Scope = r.Scope ?? (r.Gateway is null ? Rtnl.RT_SCOPE_LINK : Rtnl.RT_SCOPE_UNIVERSE),
                Type = Rtnl.RTN_UNICAST,
            });
        b.U32(Rtnl.RTA_TABLE, table);
        b.Attribute(Rtnl.RTA_DST, r.Destination.GetAddressBytes());
        if (r.Gateway is { } gw) b.Attribute(Rtnl.RTA_GATEWAY, gw.GetAddressBytes());
        if (r.OutIndex != 0) b.U32(Rtnl.RTA_OIF, (uint)r.OutIndex);
        if (r.Priority is uint p) b.U32(Rtnl.RTA_PRIORITY, p);
        if (r.Mtu is not null || r.AdvMss is not null)
        {
            b.BeginNested(Rtnl.RTA_METRICS);
            if (r.Mtu is uint mtu) b.U32(Rtnl.RTAX_MTU, mtu);
            if (r.AdvMss is uint mss) b.U32(Rtnl.RTAX_ADVMSS, mss);
            b.EndNested();
        }
        Run(b, $"add route {r.Destination}/{r.PrefixLength}" + (r.Gateway is null ? "" : $" via {r.Gateway}"));
    }

    /// <summary>Every route of every table, IPv4 and IPv6.</summary>
    public IReadOnlyList<RouteInfo> GetRoutes()
    {
        var b = new NetlinkMessageBuilder(Rtnl.RTM_GETROUTE, NetlinkAbi.NLM_F_REQUEST | NetlinkAbi.NLM_F_DUMP).Struct(new RtMsg());
        var list = new List<RouteInfo>();
        foreach (var m in Run(b, "RTM_GETROUTE dump"))
        {
            if (m.Type != Rtnl.RTM_NEWROUTE || m.Payload.Length < 12) continue;
            var msg = System.Runtime.InteropServices.MemoryMarshal.Read<RtMsg>(m.Payload.Span);
            if (msg.Family is not (Rtnl.AF_INET or Rtnl.AF_INET6)) continue;
            var a = new NetlinkAttributes(m.Payload[12..]);
            int size = msg.Family == Rtnl.AF_INET ? 4 : 16;
            var dst = a.Bytes(Rtnl.RTA_DST) is { } d && d.Length == size ? new IPAddress(d.Span)
                : msg.Family == Rtnl.AF_INET ? IPAddress.Any : IPAddress.IPv6Any;
            var gw = a.Bytes(Rtnl.RTA_GATEWAY) is { } g && g.Length == size ? new IPAddress(g.Span) : null;
            list.Add(new RouteInfo(dst, msg.DstLength, gw, a.S32(Rtnl.RTA_OIF), a.U32(Rtnl.RTA_TABLE) ?? msg.Table, msg.Scope, a.U32(Rtnl.RTA_PRIORITY)));
        }
        return list;
    }

    /// <summary>The interface of the first default route of the main table (IPv4 first), or null.</summary>
    public string? DefaultRouteInterface()
    {
        foreach (var r in GetRoutes().OrderBy(r => r.Destination.AddressFamily == AddressFamily.InterNetwork ? 0 : 1))
            if (r.PrefixLength == 0 && r.Table == Rtnl.RT_TABLE_MAIN && r.OutIndex is int oif && GetLink(oif) is { } link)
                return link.Name;
        return null;
    }
}
