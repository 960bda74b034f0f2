// The attachment points of one macvtap endpoint on a packet lower (design.md "Words"): a
// vhost-user socket mvtapd listens on (<run-dir>/tapN.vhost, or a path the client chose, e.g. the
// CNI plugin's socketDir; QEMU and virtio-user connect as clients) or, in the client role
// (`vhost-user connect PATH`), a frontend's socket mvtapd dials and dials again, and <run-dir>/tapN.stream for
// QEMU `-netdev stream` (4-byte big-endian length framing); where they are is the caller's
// (MacvtapPlaces). Both files get the endpoint's owner and group so the user running the VM may
// connect. A third part is the tap relay: on request (mvtap run) a kernel TAP whose queue
// descriptor goes to the hypervisor and whose network side the datapath reads. One guest at a
// time, whichever way it comes: the parts share a GuestClaim, each with its own guest id
// (GuestIds), and a guest that goes away frees it for the next. The vhost-user part maps only the
// guest memory the endpoint's `guestmem` allows (GuestMemoryPolicy): by default only memory its
// owner cannot truncate under mvtapd.
using Mvtap.Core.Model;
using Mvtap.Linux;
using Mvtap.Linux.Interop;
using Mvtap.VhostUser;
using Mvtap.VhostUser.Memory;
using Mvtap.VhostUser.Net;

namespace Mvtap.Datapath;

public sealed class MacvtapAttachmentPoints : IDisposable
{
    /// <summary>Queue pairs offered to a vhost-user frontend (GET_QUEUE_NUM).</summary>
    public const int QueuePairs = 2;

    private readonly LowerDatapath _datapath;
    private readonly VhostUserNetBackend _backend;
    private readonly CompositeAttachment _attachment;
    private bool _disposed;

    private MacvtapAttachmentPoints(LowerDatapath datapath, VhostUserNetBackend backend, VhostUserAttachment vhost,
        VhostUserEndpoint vhostEndpoint, StreamAttachment stream, TapRelayAttachment tap, CompositeAttachment attachment)
    {
        Tap = tap;
        _datapath = datapath;
        _backend = backend;
        Vhost = vhost;
        VhostEndpoint = vhostEndpoint;
        Stream = stream;
        _attachment = attachment;
    }

    public VhostUserAttachment Vhost { get; }
    public VhostUserEndpoint VhostEndpoint { get; }
    public StreamAttachment Stream { get; }
    public TapRelayAttachment Tap { get; }

    /// <summary>Creates the endpoint's kernel TAP in <paramref name="netns"/> and relays it (mvtap run).
    /// Refused with EBUSY while a guest is attached any other way, or a TAP is still open.</summary>
    public TapDevice OpenTap(string? netns)
    {
        var claim = _attachment.Claim;
        if (Tap.IsRelaying || !claim.TryClaim(GuestIds.Tap))
            throw new MvtapException(Errno.EBUSY, $"{Tap.Endpoint.Name} already has a guest attached (one at a time)");
        try
        {
            return Tap.CreateTap(netns);
        }
        catch
        {
            claim.Release(GuestIds.Tap);
            throw;
        }
    }

    public static MacvtapAttachmentPoints Open(LowerDatapath datapath, Endpoint endpoint, MacvtapPlaces places, Action<string> log)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(places.StreamPath)!);
        var claim = new GuestClaim();
        var backend = new VhostUserNetBackend(QueuePairs, log) { GuestMemory = places.GuestMemory };
        var vhost = new VhostUserAttachment(endpoint, backend);
        var vhostEndpoint = new VhostUserEndpoint(backend, places.VhostUserPath, places.VhostUserRole, log)
        {
            OwnerUid = places.Uid,
            OwnerGid = places.Gid,
            AllowRootPeer = places.VhostUserRootPeer,
            Admit = () => claim.TryClaim(GuestIds.VhostUser),
            SessionEnded = () => claim.Release(GuestIds.VhostUser),
        };
        StreamAttachment? stream = null;
        CompositeAttachment? composite = null;
        var tap = new TapRelayAttachment(endpoint, claim, GuestIds.Tap);
        try
        {
            stream = StreamAttachment.Listen(endpoint, places.StreamPath, places.Uid, places.Gid, claim, GuestIds.Stream, log);
            composite = new CompositeAttachment(endpoint, claim,
                (GuestIds.VhostUser, vhost), (GuestIds.Stream, stream), (GuestIds.Tap, tap));
            datapath.Attach(composite);
            vhostEndpoint.Start();
        }
        catch
        {
            if (composite is not null) try { datapath.Detach(composite); } catch (Exception) { /* already failing */ }
            vhostEndpoint.Dispose();
            stream?.Dispose();
            backend.Dispose();
            throw;
        }
        return new MacvtapAttachmentPoints(datapath, backend, vhost, vhostEndpoint, stream, tap, composite);
    }

    /// <summary>Gives the attachment points a new owner/group (`link set ... owner U group G`).</summary>
    public void SetOwner(int uid, int gid)
    {
        if (uid < 0 && gid < 0) return;
        // a socket mvtapd dials is the frontend's, never chowned: the owner is whom it must run as
        if (VhostEndpoint.Role == VhostUserRole.Client) { if (uid >= 0) VhostEndpoint.SetOwnerUid(uid); }
        else UnixSocket.SetOwner(VhostEndpoint.SocketPath, uid, gid);
        Stream.SetOwner(uid, gid);
    }

    /// <summary>`link set ... guestmem`: the next memory table is checked against
    /// <paramref name="policy"/>; a guest whose mapped memory it no longer allows is disconnected.</summary>
    public void SetGuestMemory(GuestMemoryPolicy policy)
    {
        if (_backend.SetGuestMemory(policy))
            VhostEndpoint.Disconnect("its guest memory is not sealed against shrinking and the endpoint now maps only sealed guest memory (guestmem sealed)");
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        // The datapath lets go first, so no ring or socket is touched while they are torn down.
        try { _datapath.Detach(_attachment); } catch (Exception) { /* the datapath is stopping anyway */ }
        VhostEndpoint.Dispose();
        Stream.Dispose();
        Tap.Dispose();
        _backend.Dispose();
    }
}

/// <summary>Where a macvtap endpoint's attachment points are and who may use them: the vhost-user and
/// stream socket paths, their owner and group (-1: left as created), the guest memory its vhost-user
/// frontend may share, and whether mvtapd listens on the vhost-user path (Server) or dials it (Client,
/// where the owner is the uid the frontend must run as, and root too when VhostUserRootPeer).</summary>
public sealed record MacvtapPlaces(string VhostUserPath, string StreamPath, int Uid, int Gid, GuestMemoryPolicy GuestMemory,
    VhostUserRole VhostUserRole = VhostUserRole.Server, bool VhostUserRootPeer = true);
