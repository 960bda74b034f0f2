// The parts of `link add` that say how an endpoint is attached to its user rather than how it
// forwards: the CNI attachment that makes it, where its vhost-user socket goes (or which frontend's
// socket mvtapd dials: VhostUserDialRules), and a persistent
// TAP as its carrier. Checked before anything is created, so a refusal leaves nothing behind.
using Mvtap.Control;
using Mvtap.Core.Model;
using Mvtap.Daemon.Attachments;
using Mvtap.Daemon.Lowers;

namespace Mvtap.Daemon.Links;

internal static class AttachmentRequestRules
{
    /// <summary>Refuses what cannot be honoured and returns the name a macvlan endpoint's interface gets
    /// (the CNI ifname inside the container's namespace), or null for the endpoint's own name.</summary>
    public static string? Check(LinkAddRequest r, EndpointKind kind, IEnumerable<EndpointRecord> records, uint clientUid = 0)
    {
        bool dialling = VhostUserDialRules.Check(r, kind, clientUid);
        if (r.TapName is { } tap)
        {
            if (kind != EndpointKind.Macvtap)
                throw new MvtapException(Errno.EINVAL, "only a macvtap endpoint is carried by a tap");
            RequestValues.Name(tap, "tap");
            if (tap.Contains('%')) throw new MvtapException(Errno.EINVAL, $"invalid tap name \"{tap}\"");
            if (r.VhostUserPath is not null)
                throw new MvtapException(Errno.EINVAL, "an endpoint carried by a tap has no vhost-user socket");
            foreach (var other in records)
                if (other.TapName == tap && other.Netns == r.Netns)
                    throw new MvtapException(Errno.EEXIST, $"{other.Name} is carried by tap {tap}{(r.Netns is null ? "" : $" in {r.Netns}")}");
        }
        if (r.Cni is { } cni)
        {
            if (cni.Problem() is { } problem) throw new MvtapException(Errno.EINVAL, problem);
            foreach (var other in records)
                if (other.Cni is { } c && c.Is(cni.ContainerId, cni.IfName, cni.Network))
                    throw new MvtapException(Errno.EEXIST,
                        $"{other.Name} already serves CNI attachment {cni.ContainerId}/{cni.IfName} of network {cni.Network}");
        }
        if (r.VhostUserPath is { } path)
        {
            if (kind != EndpointKind.Macvtap)
                throw new MvtapException(Errno.EINVAL, "only a macvtap endpoint has a vhost-user socket");
            foreach (var other in records)
                if (other.VhostUserPath == path)
                    throw new MvtapException(Errno.EEXIST, $"{path} is the vhost-user socket of {other.Name}");
            if (!dialling) VhostUserPlacement.Check(path);
        }
        if (kind != EndpointKind.Macvlan || r.Netns is null || r.Cni is null) return null;
        RequestValues.Name(r.Cni.IfName, "ifname");
        return r.Cni.IfName;
    }
}
