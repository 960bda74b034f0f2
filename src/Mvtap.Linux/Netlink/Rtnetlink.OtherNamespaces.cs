// The rtnetlink client's reach into other namespaces without entering them: a link read from the
// namespace a netnsid names (IFLA_TARGET_NETNSID: no setns, no descriptor kept, so nothing holds
// that namespace alive), and a netnsid given to a namespace that has none yet, so that its link
// notifications reach a subscriber listening to every namespace with an id (NETLINK_LISTEN_ALL_NSID).
// Changing a link this way is not offered: on RTM_NEWLINK the kernel takes IFLA_TARGET_NETNSID as
// the namespace to move the device to.
using Mvtap.Core.Model;
using Mvtap.Linux.Interop;

namespace Mvtap.Linux.Netlink;

public sealed partial class Rtnetlink
{
    private const uint RTEXT_FILTER_SKIP_STATS = 1 << 3;

    /// <summary>The link with index <paramref name="index"/> in the namespace this client's namespace
    /// calls <paramref name="nsid"/>; null when there is no such link (or no such namespace any more).</summary>
    public LinkInfo? GetLink(int index, int nsid)
    {
        var b = new NetlinkMessageBuilder(Rtnl.RTM_GETLINK, NetlinkAbi.NLM_F_REQUEST)
            .Struct(new IfInfoMsg { Index = index })
            .S32(Rtnl.IFLA_TARGET_NETNSID, nsid)
            .U32(Rtnl.IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS); // read often: the kernel need not gather counters
        try
        {
            return Run(b, $"RTM_GETLINK #{index} in netnsid {nsid}").Where(m => m.Type == Rtnl.RTM_NEWLINK)
                .Select(m => LinkInfo.Parse(m.Payload)).FirstOrDefault();
        }
        catch (RtnetlinkException e) when (e.Errno is (int)Errno.ENODEV or (int)Errno.EINVAL) // EINVAL: the id names no namespace now
        {
            return null;
        }
    }

    /// <summary>The id this client's namespace has for <paramref name="netns"/>, assigning one when it has none.</summary>
    public int EnsureNsId(FileDescriptor netns)
    {
        if (GetNsId(netns) is int id) return id;
        // RTM_NEWNSID with NETNSA_NSID -1: the kernel picks a free id
        var b = new NetlinkMessageBuilder(Rtnl.RTM_NEWNSID, NetlinkAbi.NLM_F_REQUEST)
            .Struct(0u).U32(Rtnl.NETNSA_FD, (uint)netns.Fd).S32(Rtnl.NETNSA_NSID, -1);
        try
        {
            Run(b, "RTM_NEWNSID");
        }
        catch (RtnetlinkException e) when (e.Errno == (int)Errno.EEXIST)
        {
            // EEXIST: somebody (a link dump) assigned one meanwhile
        }
        finally
        {
            GC.KeepAlive(netns);
        }
        return GetNsId(netns) ?? throw new RtnetlinkException((int)Errno.ENODATA, null, "RTM_NEWNSID: no id assigned");
    }
}
