// What a `link add ... type host` request may carry: the host port is the host itself, so it has no
// mode (it is a bridge endpoint to those with hostaccess off; a restored one says "bridge"), no
// hostaccess of its own, no namespace to live in and no hypervisor attachment. One per lower and
// never beside passthru are the core's rules (Port).
using Mvtap.Control;
using Mvtap.Core.Model;

namespace Mvtap.Daemon.Links;

internal static class HostPortRequestRules
{
    public static void Check(LinkAddRequest r, string name)
    {
        if (r.Mode is not null && r.Mode != EndpointMode.Bridge.Name())
            throw new MvtapException(Errno.EINVAL, $"{name} is a host port: it has no mode (it is the host, reached by every endpoint)");
        if (r.HostAccess is not null)
            throw new MvtapException(Errno.EINVAL, $"{name} is a host port: hostaccess is a setting of the other endpoints");
        if (r.Netns is not null)
            throw new MvtapException(Errno.EINVAL, $"{name} is a host port: it stays in the host's namespace");
        if (r.Owner is not null || r.Group is not null || r.GuestMemory is not null || r.VhostUserPath is not null || r.TapName is not null || r.Cni is not null)
            throw new MvtapException(Errno.EINVAL, $"{name} is a host port: owner, group, guestmem, tap and CNI attachments are for macvtap and macvlan endpoints");
    }
}
