// The rtnetlink client's netns-id query (RTM_GETNSID): which id the client's namespace gives
// another namespace, named by an open descriptor. A link moved away is reported with such an id
// (IFLA_NEW_NETNSID), so this is how a namespace is matched to it.
using Mvtap.Linux.Interop;

namespace Mvtap.Linux.Netlink;

public sealed partial class Rtnetlink
{
    /// <summary>The id this client's namespace has for the namespace <paramref name="netns"/> refers
    /// to, or null when it has assigned none (or the kernel refuses to say).</summary>
    public int? GetNsId(FileDescriptor netns)
    {
        // struct rtgenmsg (one byte, padded to four) then NETNSA_FD
        var b = new NetlinkMessageBuilder(Rtnl.RTM_GETNSID, NetlinkAbi.NLM_F_REQUEST).Struct(0u).U32(Rtnl.NETNSA_FD, (uint)netns.Fd);
        try
        {
            foreach (var m in Run(b, "RTM_GETNSID"))
                if (m.Type == Rtnl.RTM_NEWNSID && m.Payload.Length >= 4) return NsIdOf(m.Payload);
            return null;
        }
        catch (RtnetlinkException)
        {
            return null;
        }
        finally
        {
            GC.KeepAlive(netns);
        }
    }

    /// <summary>The id in an RTM_NEWNSID reply's payload (struct rtgenmsg, then NETNSA_NSID), or null
    /// when it has none, a negative one (none assigned), or the payload is too short; bounds-checked.</summary>
    internal static int? NsIdOf(ReadOnlyMemory<byte> payload)
    {
        if (payload.Length < 4) return null;
        int? id = new NetlinkAttributes(payload[4..]).S32(Rtnl.NETNSA_NSID);
        return id is >= 0 ? id : null;
    }
}
