// The rtnetlink link client: list, create, change and delete links (macvlan, macvtap, veth...)
// in the network namespace the client was opened in. Never shells out. Addresses and routes are
// in Rtnetlink.Addresses.cs and Rtnetlink.Routes.cs.
using Mvtap.Core.Model;
using Mvtap.Linux.Interop;

namespace Mvtap.Linux.Netlink;

/// <summary>A refused link request: the kernel's errno and extended-ack message.</summary>
public sealed class RtnetlinkException(int errno, string? kernelMessage, string request)
    : NetlinkException(errno, kernelMessage, request);

/// <summary>Not thread-safe: one request at a time per instance.</summary>
public sealed partial class Rtnetlink : IDisposable
{
    private readonly NetlinkSocket _socket;

    /// <summary>Opens a client in the calling thread's namespace.</summary>
    public Rtnetlink() => _socket = new NetlinkSocket(NetlinkAbi.NETLINK_ROUTE);

    /// <summary>Opens a client bound to the named namespace (/run/netns/NAME); it stays there.</summary>
    public static Rtnetlink InNamespace(string netns) => NetNamespace.Run(netns, () => new Rtnetlink());

    public IReadOnlyList<LinkInfo> GetLinks()
    {
        var b = new NetlinkMessageBuilder(Rtnl.RTM_GETLINK, NetlinkAbi.NLM_F_REQUEST | NetlinkAbi.NLM_F_DUMP)
            .Struct(new IfInfoMsg());
        return Run(b, "RTM_GETLINK dump").Where(m => m.Type == Rtnl.RTM_NEWLINK).Select(m => LinkInfo.Parse(m.Payload)).ToList();
    }

    /// <summary>The link called <paramref name="name"/>, or null if there is none (ENODEV).</summary>
    public LinkInfo? GetLink(string name) => Get(new IfInfoMsg(), name, $"RTM_GETLINK {name}");

    public LinkInfo? GetLink(int index) => Get(new IfInfoMsg { Index = index }, null, $"RTM_GETLINK #{index}");

    private LinkInfo? Get(IfInfoMsg msg, string? name, string what)
    {
        var b = new NetlinkMessageBuilder(Rtnl.RTM_GETLINK, NetlinkAbi.NLM_F_REQUEST).Struct(msg);
        if (name is not null) b.String(Rtnl.IFLA_IFNAME, name);
        try
        {
            return Run(b, what).Where(m => m.Type == Rtnl.RTM_NEWLINK).Select(m => LinkInfo.Parse(m.Payload)).FirstOrDefault();
        }
        catch (RtnetlinkException e) when (e.Errno == (int)Errno.ENODEV)
        {
            return null;
        }
    }

    /// <summary>RTM_NEWLINK with NLM_F_CREATE|NLM_F_EXCL: fails with EEXIST if the name is taken.</summary>
    public void CreateLink(LinkRequest request)
    {
        if (request.Kind is null) throw new ArgumentException("Kind is required to create a link", nameof(request));
        var b = new NetlinkMessageBuilder(Rtnl.RTM_NEWLINK,
            NetlinkAbi.NLM_F_REQUEST | NetlinkAbi.NLM_F_CREATE | NetlinkAbi.NLM_F_EXCL);
        Describe(b, request);
        Run(b, $"create {request.Kind} {request.Name}");
        KeepFdsAlive(request);
    }

    /// <summary>Changes an existing link (RTM_NEWLINK without CREATE, so IFLA_INFO_DATA reaches changelink).</summary>
    public void SetLink(LinkRequest request)
    {
        // The kernel routes IFLA_INFO_DATA by IFLA_INFO_KIND (EOPNOTSUPP without it), so fill in the current kind.
        if (request.Kind is null && (request.Macvlan is not null || request.VethPeer is not null))
        {
            var current = (request.Index != 0 ? GetLink(request.Index) : GetLink(request.Name ?? ""))
                ?? throw new RtnetlinkException(19, null, $"set {request.Name ?? "#" + request.Index}");
            request = request with { Kind = current.Kind };
        }
        var b = new NetlinkMessageBuilder(Rtnl.RTM_NEWLINK, NetlinkAbi.NLM_F_REQUEST);
        Describe(b, request);
        Run(b, $"set {request.Name ?? "#" + request.Index}");
        KeepFdsAlive(request);
    }

    public void DeleteLink(string name) => Delete(new IfInfoMsg(), name, $"delete {name}");

    public void DeleteLink(int index) => Delete(new IfInfoMsg { Index = index }, null, $"delete #{index}");

    private void Delete(IfInfoMsg msg, string? name, string what)
    {
        var b = new NetlinkMessageBuilder(Rtnl.RTM_DELLINK, NetlinkAbi.NLM_F_REQUEST).Struct(msg);
        if (name is not null) b.String(Rtnl.IFLA_IFNAME, name);
        Run(b, what);
    }

    public void SetUp(string name, bool up) => SetLink(new LinkRequest { Name = name, Up = up });

    /// <summary>Moves a link into the namespace an fd refers to (e.g. an open /run/netns/NAME).</summary>
    public void MoveToNamespace(string name, FileDescriptor netns)
    {
        SetLink(new LinkRequest { Name = name, NetNsFd = netns });
    }

    // The request carries raw fd numbers: the handles must outlive the send.
    private static void KeepFdsAlive(LinkRequest r)
    {
        GC.KeepAlive(r.NetNsFd);
        if (r.VethPeer is not null) GC.KeepAlive(r.VethPeer.NetNsFd);
    }

    private static void Describe(NetlinkMessageBuilder b, LinkRequest r)
    {
        IfInfoMsg msg = new() { Index = r.Index };
        if (r.Up is bool up)
        {
            msg.Change = Rtnl.IFF_UP;
            msg.Flags = up ? Rtnl.IFF_UP : 0;
        }
        b.Struct(msg);
        DescribeAttributes(b, r);
    }

    private static void DescribeAttributes(NetlinkMessageBuilder b, LinkRequest r)
    {
        if (r.Name is not null) b.String(Rtnl.IFLA_IFNAME, r.Name);
        if (r.Link is int link) b.U32(Rtnl.IFLA_LINK, (uint)link);
        if (r.Address is { } mac) b.Mac(Rtnl.IFLA_ADDRESS, mac);
        if (r.Mtu is uint mtu) b.U32(Rtnl.IFLA_MTU, mtu);
        if (r.TxQueueLength is uint q) b.U32(Rtnl.IFLA_TXQLEN, q);
        if (r.NetNsFd is { } fd) b.U32(Rtnl.IFLA_NET_NS_FD, (uint)fd.Fd);
        if (r.NetNsPid is int pid) b.U32(Rtnl.IFLA_NET_NS_PID, (uint)pid);
        if (r.Kind is null && r.Macvlan is null && r.VethPeer is null) return;

        b.BeginNested(Rtnl.IFLA_LINKINFO);
        if (r.Kind is not null) b.String(Rtnl.IFLA_INFO_KIND, r.Kind);
        if (r.Macvlan is { } m)
        {
            b.BeginNested(Rtnl.IFLA_INFO_DATA);
            if (m.Mode is { } mode) b.U32(Rtnl.IFLA_MACVLAN_MODE, (uint)mode);
            if (m.Flags is { } flags) b.U16(Rtnl.IFLA_MACVLAN_FLAGS, (ushort)flags);
            if (m.MacaddrMode is { } op) b.U32(Rtnl.IFLA_MACVLAN_MACADDR_MODE, (uint)op);
            if (m.Macaddr is { } one) b.Mac(Rtnl.IFLA_MACVLAN_MACADDR, one);
            if (m.MacaddrData is { } list)
            {
                b.BeginNested(Rtnl.IFLA_MACVLAN_MACADDR_DATA);
                foreach (var a in list) b.Mac(Rtnl.IFLA_MACVLAN_MACADDR, a);
                b.EndNested();
            }
            if (m.MacaddrCount is uint count) b.U32(Rtnl.IFLA_MACVLAN_MACADDR_COUNT, count);
            if (m.BcQueueLength is uint bc) b.U32(Rtnl.IFLA_MACVLAN_BC_QUEUE_LEN, bc);
            if (m.BcQueueLengthUsed is uint used) b.U32(Rtnl.IFLA_MACVLAN_BC_QUEUE_LEN_USED, used);
            if (m.BcCutoff is int cutoff) b.S32(Rtnl.IFLA_MACVLAN_BC_CUTOFF, cutoff);
            b.EndNested();
        }
        else if (r.VethPeer is { } peer)
        {
            // VETH_INFO_PEER carries a struct ifinfomsg followed by the peer's own attributes.
            b.BeginNested(Rtnl.IFLA_INFO_DATA);
            b.BeginNested(Rtnl.VETH_INFO_PEER);
            b.Struct(new IfInfoMsg());
            DescribeAttributes(b, peer with { Kind = null });
            b.EndNested();
            b.EndNested();
        }
        b.EndNested();
    }

    private List<NetlinkMessage> Run(NetlinkMessageBuilder b, string what)
    {
        try
        {
            return _socket.Request(b, what);
        }
        catch (NetlinkException e) when (e is not RtnetlinkException)
        {
            throw new RtnetlinkException(e.Errno, e.KernelMessage, what);
        }
    }

    public void Dispose() => _socket.Dispose();
}
