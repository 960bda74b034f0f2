// Netlink and rtnetlink uapi (<linux/netlink.h>, <linux/rtnetlink.h>, <linux/if_link.h>): headers and numbers.
using System.Runtime.InteropServices;

namespace Mvtap.Linux.Interop;

/// <summary>struct nlmsghdr (16 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct NlMsgHdr
{
    public uint Length;
    public ushort Type;
    public ushort Flags;
    public uint Sequence;
    public uint PortId;
}

/// <summary>struct nlattr (4 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct NlAttr
{
    public ushort Length;
    public ushort Type;
}

/// <summary>struct ifinfomsg (16 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct IfInfoMsg
{
    public byte Family;
    public byte Pad;
    public ushort Type;
    public int Index;
    public uint Flags;
    public uint Change;
}

/// <summary>struct ifaddrmsg (8 bytes), <linux/if_addr.h>.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct IfAddrMsg
{
    public byte Family;
    public byte PrefixLength;
    public byte Flags;
    public byte Scope;
    public int Index;
}

/// <summary>struct rtmsg (12 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct RtMsg
{
    public byte Family;
    public byte DstLength;
    public byte SrcLength;
    public byte Tos;
    public byte Table;
    public byte Protocol;
    public byte Scope;
    public byte Type;
    public uint Flags;
}

/// <summary>struct sockaddr_nl (12 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct SockaddrNl
{
    public ushort Family;
    public ushort Pad;
    public uint PortId;
    public uint Groups;
}

/// <summary>struct nlmsgerr (20 bytes): the error code and the header of the request it answers.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct NlMsgErr
{
    public int Error;
    public NlMsgHdr Request;
}

public static class NetlinkAbi
{
    public const int NETLINK_ROUTE = 0;
    public const int SOL_NETLINK = 270;
    public const int NETLINK_CAP_ACK = 10;
    public const int NETLINK_EXT_ACK = 11;
    public const int NETLINK_GET_STRICT_CHK = 12;
    /// <summary>A subscriber also hears the namespaces its own has a netnsid for; each message then
    /// carries that id in a control message of this type.</summary>
    public const int NETLINK_LISTEN_ALL_NSID = 8;

    public const ushort NLMSG_NOOP = 1, NLMSG_ERROR = 2, NLMSG_DONE = 3;
    public const ushort NLM_F_REQUEST = 1, NLM_F_MULTI = 2, NLM_F_ACK = 4, NLM_F_ECHO = 8;
    public const ushort NLM_F_DUMP_INTR = 0x10;
    public const ushort NLM_F_ROOT = 0x100, NLM_F_MATCH = 0x200, NLM_F_DUMP = 0x300;
    public const ushort NLM_F_REPLACE = 0x100, NLM_F_EXCL = 0x200, NLM_F_CREATE = 0x400;
    public const ushort NLM_F_CAPPED = 0x100, NLM_F_ACK_TLVS = 0x200; // flags on an NLMSG_ERROR
    public const ushort NLMSGERR_ATTR_MSG = 1, NLMSGERR_ATTR_OFFS = 2;
    public const ushort NLA_F_NESTED = 0x8000, NLA_TYPE_MASK = 0x3fff;

    public static int Align(int n) => (n + 3) & ~3;
}

public static class Rtnl
{
    public const ushort RTM_NEWLINK = 16, RTM_DELLINK = 17, RTM_GETLINK = 18, RTM_SETLINK = 19;

    public const ushort IFLA_ADDRESS = 1, IFLA_BROADCAST = 2, IFLA_IFNAME = 3, IFLA_MTU = 4, IFLA_LINK = 5;
    public const ushort IFLA_QDISC = 6, IFLA_MASTER = 10, IFLA_TXQLEN = 13, IFLA_OPERSTATE = 16, IFLA_LINKMODE = 17;
    public const ushort IFLA_LINKINFO = 18, IFLA_NET_NS_PID = 19, IFLA_GROUP = 27, IFLA_NET_NS_FD = 28;
    public const ushort IFLA_EXT_MASK = 29, IFLA_PROMISCUITY = 30, IFLA_NUM_TX_QUEUES = 31, IFLA_NUM_RX_QUEUES = 32;
    public const ushort IFLA_CARRIER = 33, IFLA_LINK_NETNSID = 37, IFLA_MIN_MTU = 50, IFLA_MAX_MTU = 51;
    public const ushort IFLA_PERM_ADDRESS = 54, IFLA_ALLMULTI = 61;
    /// <summary>In an RTM_DELLINK for a link moved to another namespace: its netnsid (as seen from
    /// the namespace it left) and its ifindex there.</summary>
    public const ushort IFLA_NEW_NETNSID = 45, IFLA_NEW_IFINDEX = 49;

    // netns ids (<linux/net_namespace.h>): RTM_GETNSID asks which id a namespace has here
    public const ushort RTM_NEWNSID = 88, RTM_GETNSID = 90;
    public const ushort NETNSA_NSID = 1, NETNSA_FD = 3;

    public const ushort IFLA_INFO_KIND = 1, IFLA_INFO_DATA = 2;
    public const ushort VETH_INFO_PEER = 1;

    public const ushort IFLA_MACVLAN_MODE = 1, IFLA_MACVLAN_FLAGS = 2, IFLA_MACVLAN_MACADDR_MODE = 3;
    public const ushort IFLA_MACVLAN_MACADDR = 4, IFLA_MACVLAN_MACADDR_DATA = 5, IFLA_MACVLAN_MACADDR_COUNT = 6;
    public const ushort IFLA_MACVLAN_BC_QUEUE_LEN = 7, IFLA_MACVLAN_BC_QUEUE_LEN_USED = 8, IFLA_MACVLAN_BC_CUTOFF = 9;

    /// <summary>IFLA_TARGET_NETNSID: RTM_GETLINK answered from the namespace with this id (as the
    /// asking socket's namespace knows it). Only for reading: on RTM_NEWLINK it moves the device.</summary>
    public const ushort IFLA_TARGET_NETNSID = 46;
    /// <summary>IPv4/IPv6 group joins and leaves (struct ifaddrmsg; Linux 6.13+).</summary>
    public const ushort RTM_NEWMULTICAST = 56, RTM_DELMULTICAST = 57;
    public const ushort RTM_NEWADDR = 20, RTM_DELADDR = 21, RTM_GETADDR = 22;
    public const ushort RTM_NEWROUTE = 24, RTM_DELROUTE = 25, RTM_GETROUTE = 26;

    public const ushort IFA_ADDRESS = 1, IFA_LOCAL = 2, IFA_BROADCAST = 4, IFA_FLAGS = 8;
    public const uint IFA_F_DADFAILED = 0x08, IFA_F_TENTATIVE = 0x40;

    public const ushort RTA_DST = 1, RTA_OIF = 4, RTA_GATEWAY = 5, RTA_PRIORITY = 6, RTA_METRICS = 8, RTA_TABLE = 15;
    public const ushort RTAX_MTU = 2, RTAX_ADVMSS = 8;
    public const byte RT_TABLE_UNSPEC = 0, RT_TABLE_MAIN = 254, RTPROT_BOOT = 3, RTN_UNICAST = 1;
    public const byte RT_SCOPE_UNIVERSE = 0, RT_SCOPE_LINK = 253, RT_SCOPE_HOST = 254;
    public const byte AF_INET = 2, AF_INET6 = 10;

    public const uint IFF_UP = 0x1, IFF_BROADCAST = 0x2, IFF_LOOPBACK = 0x8, IFF_POINTOPOINT = 0x10;
    public const uint IFF_RUNNING = 0x40, IFF_NOARP = 0x80, IFF_PROMISC = 0x100, IFF_ALLMULTI = 0x200;
    public const uint IFF_MULTICAST = 0x1000, IFF_LOWER_UP = 0x10000, IFF_DORMANT = 0x20000;
}
