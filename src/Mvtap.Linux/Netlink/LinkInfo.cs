// One link as RTM_NEWLINK (or RTM_DELLINK) describes it, parsed into the fields mvtap and `ip -d link` care about.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Linux.Interop;

namespace Mvtap.Linux.Netlink;

public sealed record LinkInfo
{
    public int Index { get; init; }
    public string Name { get; init; } = "";
    /// <summary>ifi_flags (IFF_UP, IFF_LOWER_UP, IFF_PROMISC...).</summary>
    public uint Flags { get; init; }
    /// <summary>ifi_type (ARPHRD_ETHER = 1).</summary>
    public ushort HardwareType { get; init; }
    public uint Mtu { get; init; }
    /// <summary>IFLA_QDISC: the root qdisc's kind ("noqueue", "pfifo_fast", ...), if any.</summary>
    public string? Qdisc { get; init; }
    public uint? MinMtu { get; init; }
    public uint? MaxMtu { get; init; }
    /// <summary>IF_OPER_*: 0 unknown, 2 down, 5 dormant, 6 up, 7 lowerlayerdown ...</summary>
    public byte OperState { get; init; }
    public uint TxQueueLength { get; init; }
    public MacAddress? Address { get; init; }
    public MacAddress? Broadcast { get; init; }
    /// <summary>IFLA_LINK: the lower's ifindex (in <see cref="LinkNetNsId"/>'s namespace if that is set).</summary>
    public int? Link { get; init; }
    public int? LinkNetNsId { get; init; }
    public uint Promiscuity { get; init; }
    public uint? Allmulti { get; init; }
    public bool? Carrier { get; init; }
    /// <summary>IFLA_MASTER: the bridge/bond this link is enslaved to.</summary>
    public int? Master { get; init; }
    public uint? NumTxQueues { get; init; }
    public uint? NumRxQueues { get; init; }
    public MacAddress? PermanentAddress { get; init; }
    public string? Kind { get; init; }
    /// <summary>RTM_DELLINK of a link moved to another namespace: that namespace's id as the
    /// namespace the message came from knows it, and the link's ifindex there.</summary>
    public int? NewNetNsId { get; init; }
    public int? NewIfIndex { get; init; }
    /// <summary>Set for kind macvlan/macvtap.</summary>
    public MacvlanInfo? Macvlan { get; init; }

    public bool IsUp => (Flags & Rtnl.IFF_UP) != 0;
    public bool IsLowerUp => (Flags & Rtnl.IFF_LOWER_UP) != 0;

    public static readonly string[] OperStateNames = ["UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP"];
    public string OperStateName => OperState < OperStateNames.Length ? OperStateNames[OperState] : OperState.ToString();

    /// <summary>Parses an RTM_NEWLINK payload; <see cref="InvalidDataException"/> when it is too
    /// short for its struct ifinfomsg (attributes that do not fit are ignored, as nla_parse does).</summary>
    internal static LinkInfo Parse(ReadOnlyMemory<byte> payload)
    {
        if (payload.Length < 16) throw new InvalidDataException($"RTM_NEWLINK of {payload.Length} bytes: shorter than struct ifinfomsg");
        var msg = System.Runtime.InteropServices.MemoryMarshal.Read<IfInfoMsg>(payload.Span);
        var a = new NetlinkAttributes(payload[16..]);
        var linkinfo = a.Nested(Rtnl.IFLA_LINKINFO);
        string? kind = linkinfo?.String(Rtnl.IFLA_INFO_KIND);
        var data = linkinfo?.Nested(Rtnl.IFLA_INFO_DATA);
        return new LinkInfo
        {
            Index = msg.Index,
            Flags = msg.Flags,
            HardwareType = msg.Type,
            Name = a.String(Rtnl.IFLA_IFNAME) ?? "",
            Mtu = a.U32(Rtnl.IFLA_MTU) ?? 0,
            MinMtu = a.U32(Rtnl.IFLA_MIN_MTU),
            MaxMtu = a.U32(Rtnl.IFLA_MAX_MTU),
            OperState = a.U8(Rtnl.IFLA_OPERSTATE) ?? 0,
            TxQueueLength = a.U32(Rtnl.IFLA_TXQLEN) ?? 0,
            Qdisc = a.String(Rtnl.IFLA_QDISC),
            Address = a.Mac(Rtnl.IFLA_ADDRESS),
            Broadcast = a.Mac(Rtnl.IFLA_BROADCAST),
            Link = a.S32(Rtnl.IFLA_LINK),
            LinkNetNsId = a.S32(Rtnl.IFLA_LINK_NETNSID),
            Promiscuity = a.U32(Rtnl.IFLA_PROMISCUITY) ?? 0,
            Allmulti = a.U32(Rtnl.IFLA_ALLMULTI),
            Carrier = a.U8(Rtnl.IFLA_CARRIER) is byte c ? c != 0 : null,
            Master = a.S32(Rtnl.IFLA_MASTER),
            NumTxQueues = a.U32(Rtnl.IFLA_NUM_TX_QUEUES),
            NumRxQueues = a.U32(Rtnl.IFLA_NUM_RX_QUEUES),
            PermanentAddress = a.Mac(Rtnl.IFLA_PERM_ADDRESS),
            Kind = kind,
            NewNetNsId = a.S32(Rtnl.IFLA_NEW_NETNSID),
            NewIfIndex = a.S32(Rtnl.IFLA_NEW_IFINDEX),
            Macvlan = kind is "macvlan" or "macvtap" && data is not null ? MacvlanInfo.Parse(data) : null,
        };
    }
}

/// <summary>IFLA_INFO_DATA of a macvlan/macvtap as the kernel dumps it (spec 6).</summary>
public sealed record MacvlanInfo
{
    public EndpointMode Mode { get; init; }
    public EndpointFlags Flags { get; init; }
    public uint MacaddrCount { get; init; }
    public IReadOnlyList<MacAddress> Macaddrs { get; init; } = [];
    public uint BcQueueLength { get; init; }
    public uint BcQueueLengthUsed { get; init; }
    /// <summary>Dumped only when not the default 1.</summary>
    public int BcCutoff { get; init; } = 1;

    internal static MacvlanInfo Parse(NetlinkAttributes d)
    {
        var list = new List<MacAddress>();
        if (d.Nested(Rtnl.IFLA_MACVLAN_MACADDR_DATA) is { } nested)
            foreach (var (type, payload) in nested.All)
                if (type == Rtnl.IFLA_MACVLAN_MACADDR && payload.Length == 6) list.Add(MacAddress.Read(payload.Span));
        return new MacvlanInfo
        {
            Mode = (EndpointMode)(d.U32(Rtnl.IFLA_MACVLAN_MODE) ?? 0),
            Flags = (EndpointFlags)(d.U16(Rtnl.IFLA_MACVLAN_FLAGS) ?? 0),
            MacaddrCount = d.U32(Rtnl.IFLA_MACVLAN_MACADDR_COUNT) ?? 0,
            Macaddrs = list,
            BcQueueLength = d.U32(Rtnl.IFLA_MACVLAN_BC_QUEUE_LEN) ?? 0,
            BcQueueLengthUsed = d.U32(Rtnl.IFLA_MACVLAN_BC_QUEUE_LEN_USED) ?? 0,
            BcCutoff = d.S32(Rtnl.IFLA_MACVLAN_BC_CUTOFF) ?? 1,
        };
    }
}
