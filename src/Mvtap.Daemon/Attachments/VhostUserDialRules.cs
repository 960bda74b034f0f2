// Checks `vhost-user connect PATH` (mvtapd dials a frontend's socket) before anything is made,
// and an owner change of such an endpoint. mvtapd is root and the path is a client's, so a
// socket-group user must not be able to make root talk to a socket of someone else's: the peer
// mvtapd serves must run as the endpoint's owner (checked on every dial with SO_PEERCRED,
// VhostUserEndpoint.Dialing.cs), only root may name an owner other than the requesting user,
// and only for root's request is a peer running as root served too (libvirtd listens for the
// QEMU it starts; a user's endpoint must not reach root's own services). What is at PATH now,
// if anything, must already be such a socket (no symlink); a path where nothing is yet is fine:
// the frontend may start later.
using Mvtap.Control;
using Mvtap.Core.Model;
using Mvtap.Daemon.Lowers;
using Mvtap.Linux.Interop;

namespace Mvtap.Daemon.Attachments;

internal static class VhostUserDialRules
{
    /// <summary>The vhost-user role of a `link add`: true for connect. Throws MvtapException (EINVAL,
    /// EPERM) for what cannot be honoured.</summary>
    public static bool Check(LinkAddRequest r, EndpointKind kind, uint clientUid)
    {
        if (r.VhostUserMode is null) return false;
        if (!VhostUserModes.IsKnown(r.VhostUserMode))
            throw new MvtapException(Errno.EINVAL, $"vhost-user \"{r.VhostUserMode}\" is unknown: use listen or connect");
        if (kind != EndpointKind.Macvtap)
            throw new MvtapException(Errno.EINVAL, "only a macvtap endpoint has a vhost-user socket");
        if (r.VhostUserMode == VhostUserModes.Listen) return false;
        if (string.IsNullOrEmpty(r.VhostUserPath))
            throw new MvtapException(Errno.EINVAL, ControlRequest.NotGiven("vhost-user connect"));
        string path = r.VhostUserPath;
        VhostUserPlacement.CheckSyntax(path);
        int owner = Accounts.Uid(r.Owner);
        CheckRequester(owner, clientUid);
        uint allowed = owner >= 0 ? (uint)owner : 0;
        var node = DeviceNodes.Inspect(path);
        if (node is null) return true;
        if (!node.IsSocket)
            throw new MvtapException(Errno.EINVAL, $"{path} is not a socket (a symlink is not followed)");
        if (node.Uid != allowed && !(clientUid == 0 && node.Uid == 0))
            throw new MvtapException(Errno.EPERM,
                $"Operation not permitted: {path} belongs to uid {node.Uid}, not to the endpoint's owner ({allowed}){(clientUid == 0 ? " or root" : "")}");
        return true;
    }

    /// <summary>`link set ... owner` of an endpoint that dials: the new owner is whom its frontend must
    /// run as, so a client other than root may only name itself.</summary>
    public static void CheckOwnerChange(bool dialling, string? owner, uint clientUid)
    {
        if (!dialling || owner is null) return;
        CheckRequester(Accounts.Uid(owner), clientUid);
    }

    private static void CheckRequester(int owner, uint clientUid)
    {
        if (clientUid == 0 || owner == (int)clientUid) return;
        throw new MvtapException(Errno.EPERM,
            $"Operation not permitted: mvtapd dials a vhost-user socket only for its owner; owner must be the requesting user (uid {clientUid})");
    }
}
