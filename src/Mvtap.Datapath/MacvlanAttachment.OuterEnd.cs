// The datapath's (outer) end of a macvlan endpoint's or host port's veth pair taken out of the switch's
// namespace by someone else (`ip link set mvoNNNN netns X`): it is mvtapd's own, as the kernel's
// macvlan device is the kernel's, so it is moved back (to the same name and index), brought up, and
// its packet socket, which the kernel unbound when it left, bound to it again with its promiscuity.
using Mvtap.Core.Model;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

namespace Mvtap.Datapath;

public sealed partial class MacvlanAttachment
{
    /// <summary>Moves the outer end back from the namespace the switch's calls <paramref name="nsId"/>, where
    /// it has index <paramref name="ifIndex"/>, and carries traffic on it again. Null when done; otherwise why
    /// not. <paramref name="where"/> names that namespace. Monitor thread.</summary>
    internal string? BringOuterBack(Rtnetlink host, int nsId, int ifIndex, out string where)
    {
        where = $"the namespace with netnsid {nsId}";
        var ns = nsId >= 0 ? _namespaces.AcquireByNsId(nsId, null) : null;
        if (ns is null) return "mvtapd cannot reach it";
        try
        {
            where = ns.ToString();
            if (!ns.IsOpen) return "mvtapd cannot reach it";
            try
            {
                using var rtnl = ns.Run(() => new Rtnetlink());
                _namespaces.Home.WithHandle(fd => { rtnl.SetLink(new LinkRequest { Index = ifIndex, NetNsFd = fd }); return 0; });
            }
            catch (Exception e) when (e is RtnetlinkException or SystemCallException or MvtapException or ObjectDisposedException)
            {
                return e.Message;
            }
            var outer = host.GetLink(OuterIfIndex);
            if (outer is null || outer.Name != OuterName)
            {
                // back under another index (its own taken meanwhile): not the interface the socket knows
                if (host.GetLink(OuterName) is { } other) host.DeleteLink(other.Index);
                return "its index was taken";
            }
            host.SetLink(new LinkRequest { Index = OuterIfIndex, Up = true }); // a move leaves it down
            Socket.Rebind();
            Socket.SetPromiscuous(true);
            return null;
        }
        finally
        {
            _namespaces.Release(ns);
        }
    }
}
