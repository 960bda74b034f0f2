// What a container does to its macvlan endpoint's interface (the inner veth end), turned into the
// port's own changes. With the kernel's macvlan the device IS the endpoint, so `ip link set eth0
// down|up|address|mtu`, `ip maddr add`, the IP stack's group joins and ALLMULTI/PROMISC inside the
// container are endpoint changes with the endpoint's rules. One follower per followed attachment,
// used by InnerLinkMonitor's thread only (which also keeps, here, what it knows of where the NIC is).
//
// A veth cannot refuse what the kernel's macvlan would refuse, so the change has already happened on
// the interface when we see it. The choice made here, closest to what a user of the kernel's
// macvlan sees: the change is applied to the endpoint when the port accepts it; when the port refuses
// it the interface is put back to the endpoint's value (as if the kernel had refused it), the reason
// is logged and counted on the attachment (RefusedInnerChanges). The refusals are the kernel's:
//   - a MAC that is invalid, the lower's, or an up endpoint's: EADDRNOTAVAIL/EADDRINUSE (spec 4.1, A03);
//   - an MTU outside 68..lower MTU: EINVAL (spec 4.3, A08);
//   - up while another up endpoint has the same MAC: EADDRINUSE (spec 4.1 open, A02) - put back down.
// Going down is never refused; unicast to a down endpoint is then passed to the lower (spec 3.3, R04).
using Mvtap.Core.Frames;
using Mvtap.Core.Model;

namespace Mvtap.Datapath;

/// <summary>One observation of the inner end: its link state and its link-layer multicast list (null: not
/// readable now, its namespace out of mvtap's reach: the groups followed so far stay), read after
/// GroupsStamp was taken (InnerMulticast.ReadStamp).</summary>
internal readonly record struct InnerLinkState(bool Up, MacAddress Mac, int Mtu, bool AllMulti, bool Promisc,
    IReadOnlyCollection<MacAddress>? Groups, long GroupsStamp);

internal sealed class InnerLinkFollower(MacvlanAttachment attachment, Action<string> log)
{
    public MacvlanAttachment Attachment => attachment;

    // ---- the monitor's bookkeeping (its thread only) ----
    /// <summary>The place the monitor indexes this follower under (namespace key, ifindex).</summary>
    public (int NsKey, int IfIndex)? IndexedAt { get; set; }
    /// <summary>The place last followed, to tell a move made by the container from one made by mvtap.</summary>
    public InnerPlace? LastPlace { get; set; }
    /// <summary>Looked for again at RetryAt (a NIC caught in the middle of a move), up to a bound.</summary>
    public int Retries { get; set; }
    public long RetryAt { get; set; }
    /// <summary>Its outer end left the switch's namespace (RTM_DELLINK with a new netnsid): gone from here, not deleted.</summary>
    public bool OuterMovedAway { get; set; }
    /// <summary>Where it went: the new namespace's id (as the switch's namespace knows it) and its index there.</summary>
    public (int NsId, int IfIndex) OuterMovedTo { get; set; }
    /// <summary>The last failure logged for it; a repeat is not.</summary>
    public string? LastError { get; set; }

    /// <param name="generationBeforeRead">the attachment's PushGeneration read before <paramref name="seen"/> was.</param>
    /// <returns>Whether the interface's MAC, MTU or up/down changed (applied to the endpoint, or put back).</returns>
    public bool Apply(InnerLinkState seen, long generationBeforeRead)
    {
        var ep = attachment.Endpoint;
        if (ep.IsDeleted) return false;
        if (attachment.RecordObserved(generationBeforeRead, seen.Mac, seen.Mtu, seen.Up) is not { } changed) return false;
        var port = ep.Port;
        // Address before state: `ip link set down; ip link set address X; ip link set up` seen at once.
        if (changed.Mac) Try(() => port.SetMac(ep, seen.Mac), $"address {seen.Mac}");
        if (changed.Mtu) Try(() => port.Change(ep, new EndpointChange { Mtu = seen.Mtu }), $"mtu {seen.Mtu}");
        if (changed.Up) Try(() => port.SetUp(ep, seen.Up), seen.Up ? "up" : "down");
        // spec 1.5: the endpoint's multicast filter is its device's multicast list (+ ALLMULTI/PROMISC)
        attachment.Multicast.Follow(seen.Groups, seen.GroupsStamp, seen.AllMulti, seen.Promisc);
        return changed.Mac || changed.Mtu || changed.Up;
    }

    private void Try(Action change, string what)
    {
        try
        {
            change();
        }
        catch (MvtapException e) when (e.Errno != Errno.ENODEV)
        {
            attachment.CountRefusedInnerChange();
            log($"{attachment.Endpoint.Name}: {what} set on {attachment.InnerName} refused ({e.Errno}: {e.Message}); put back as the kernel would have refused it");
            attachment.SyncInner(restore: true);
        }
    }
}
