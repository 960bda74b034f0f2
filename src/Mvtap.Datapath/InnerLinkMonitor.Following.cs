// InnerLinkMonitor's bookkeeping of the NICs it follows (its thread only): which NIC a notification
// is about (by namespace and ifindex, or by its outer end's ifindex), which ones to read again this
// round, and reading one: where it is (moved on: followed there; unregistered: reported gone), its
// link and its namespace's multicast list, handed to its InnerLinkFollower. A host port's interface
// moved out of the switch's namespace by someone else is put back (PutHostPortBack), and so is any
// pair's datapath end (Gone, MacvlanAttachment.BringOuterBack).
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

namespace Mvtap.Datapath;

internal sealed partial class InnerLinkMonitor
{
    private readonly Dictionary<MacvlanAttachment, InnerLinkFollower> _followers = [];
    private readonly Dictionary<(int NsKey, int IfIndex), InnerLinkFollower> _byPlace = [];
    private readonly Dictionary<int, HashSet<InnerLinkFollower>> _byNamespace = [];
    private readonly Dictionary<InnerLinkFollower, bool> _dirty = []; // → look where it is first
    private readonly List<KeyValuePair<InnerLinkFollower, bool>> _syncing = [];
    private readonly HashSet<InnerNamespace> _refreshed = []; // lists read this round
    private readonly List<InnerLinkFollower> _retrying = [];
    private readonly List<InnerLinkFollower> _order = [];     // round-robin of the periodic link re-read
    private int _next;

    // The switch's own namespace has no netnsid there: -1, as notifications from it carry none.
    private static int KeyOf(int? nsId) => nsId ?? -1;

    private void MarkDirty(InnerLinkFollower f, bool relocate) => _dirty[f] = relocate || _dirty.GetValueOrDefault(f);

    private void Notice(int nsKey, LinkNotification n)
    {
        if (_byPlace.TryGetValue((nsKey, n.IfIndex), out var f))
        {
            // gone from where it was (moved on, or unregistered): look where it is; a group joined or
            // left by the IP stack: its namespace's list is read again with it
            MarkDirty(f, relocate: n.Kind == LinkNotificationKind.DelLink);
            return;
        }
        if (nsKey == -1 && n.Kind == LinkNotificationKind.DelLink)
            foreach (var g in _followers.Values)
            {
                if (g.Attachment.OuterIfIndex != n.IfIndex) continue;
                g.OuterMovedAway = n.MovedAway; // somebody took the datapath's end away: brought back (Gone)
                g.OuterMovedTo = (n.NewNsId, n.NewIfIndex);
                MarkDirty(g, relocate: true);   // unregistered: the pair went (with its namespace)
            }
    }

    private long NextRetry()
    {
        long next = long.MaxValue;
        foreach (var f in _retrying) next = Math.Min(next, f.RetryAt);
        return next;
    }

    // The share of every NIC's link that is due this round, so each is re-read every LinkInterval:
    // ALLMULTI and PROMISC taken by packet sockets (tcpdump) change no notification, only counters.
    private void PollLinks(long elapsed)
    {
        if (_order.Count == 0) return;
        int due = (int)Math.Clamp(_order.Count * elapsed / (long)LinkInterval.TotalMilliseconds, 1, _order.Count);
        for (int i = 0; i < due; i++)
        {
            if (_next >= _order.Count) _next = 0;
            MarkDirty(_order[_next++], relocate: false);
        }
    }

    private void Follow(InnerLinkFollower f)
    {
        _followers[f.Attachment] = f;
        _order.Add(f);
    }

    private void Forget(InnerLinkFollower f)
    {
        _followers.Remove(f.Attachment);
        _order.Remove(f);
        _retrying.Remove(f);
        Unindex(f);
    }

    private void LetGoOfUnused(bool checkUse)
    {
        foreach (var ns in _namespaces.Sweep(checkUse))
        {
            // the kernel destroys it now, and the pairs with it: their outer ends' deletion says so
            _log($"{ns} is used by nobody but mvtapd any more: let go of, so it goes with the NICs in it");
        }
    }

    private void SyncDirty(long now)
    {
        for (int i = _retrying.Count - 1; i >= 0; i--)
        {
            var f = _retrying[i];
            if (f.RetryAt > now) continue;
            _retrying.RemoveAt(i);
            MarkDirty(f, relocate: true);
        }
        if (_dirty.Count == 0) return;
        _syncing.Clear();
        _syncing.AddRange(_dirty);
        _dirty.Clear();
        foreach (var (f, relocate) in _syncing)
            if (!_stopping && _followers.ContainsKey(f.Attachment)) Sync(f, relocate, now);
    }

    private void Sync(InnerLinkFollower f, bool relocate, long now)
    {
        var a = f.Attachment;
        try
        {
            if (a.Endpoint.IsDeleted) return;
            var place = a.Place;
            if (relocate || place?.Namespace is not { IsOpen: true })
            {
                (place, bool gone) = a.Relocate(_host!);
                if (gone) { Gone(f); return; }
            }
            if (place is null) { Retry(f, now); return; }
            if (a.Endpoint.IsHostPort && place.NsId is not null)
            {
                place = PutHostPortBack(a, place);
                if (place is null) { Retry(f, now); return; }
            }
            Index(f, place);
            long generation = a.PushGeneration;
            var link = place.NsId is int id ? _host!.GetLink(place.IfIndex, id) : _host!.GetLink(place.IfIndex);
            if (link is null)
            {
                if (!relocate) Sync(f, relocate: true, now); // moved on or gone since we last looked
                else Retry(f, now);                         // in the middle of a move: the outer end still says here
                return;
            }
            f.Retries = 0;
            if (link.Name != a.InnerName)
            {
                _log($"{a.Endpoint.Name}: its interface {a.InnerName} is now called {link.Name}; followed under that name");
                a.FollowRename(link.Name);
                _anyChange = true;
            }
            var ns = place.Namespace;
            if (ns is { IsOpen: true } && _refreshed.Add(ns)) ns.RefreshMulticast(); // what changed with the link
            _anyChange |= f.Apply(new InnerLinkState(
                Up: link.IsUp,
                Mac: link.Address ?? a.InnerMac,
                Mtu: (int)link.Mtu,
                // the counters, not the flags: ifi_flags shows only the user-set (gflags) part, while the
                // kernel's filter (spec 1.5) sees dev->flags, set by any user (tcpdump, packet sockets)
                AllMulti: (link.Flags & Rtnl.IFF_ALLMULTI) != 0 || link.Allmulti > 0,
                Promisc: (link.Flags & Rtnl.IFF_PROMISC) != 0 || link.Promiscuity > 0,
                Groups: ns?.GroupsOf(place.IfIndex), GroupsStamp: ns?.MulticastStamp ?? 0), generation);
            f.LastError = null;
        }
        catch (Exception e) when (!a.Endpoint.IsDeleted)
        {
            Report(f, $"{a.Endpoint.Name}: following {a.InnerName} failed: {e.Message}");
            Retry(f, now);
        }
        catch (Exception)
        {
            // removed while we looked: forgotten on the Remove command
        }
    }

    // A host port is the host: its interface stays in the switch's namespace, as a device the kernel
    // keeps local to its namespace (a bridge, a VRF) refuses `ip link set netns`. Moved away by someone
    // else, it is moved back (its addresses went with the move, as they would); where mvtapd cannot
    // reach, it cannot be, so the pair is deleted with the endpoint rather than left serving a stranger.
    private InnerPlace? PutHostPortBack(MacvlanAttachment a, InnerPlace place)
    {
        if (place.Namespace is { IsOpen: true })
        {
            _log($"{a.Endpoint.Name}: its interface {a.InnerName} was moved to {place}; a host port stays in the host's namespace: moved back");
            a.MoveHome(_host!);
            return a.Place is { NsId: null } home ? home : null;
        }
        _log($"{a.Endpoint.Name}: its interface {a.InnerName} was moved to {place}, which mvtapd cannot reach; a host port stays in the host's namespace: deleted");
        _host!.DeleteLink(a.OuterIfIndex);
        return null;
    }

    private void Retry(InnerLinkFollower f, long now)
    {
        if (++f.Retries > MaxRetries || _retrying.Contains(f)) return;
        f.RetryAt = now + RetryMilliseconds;
        _retrying.Add(f);
    }

    // Indexes the follower where it is now; a place it did not get through mvtap's own move is news.
    private void Index(InnerLinkFollower f, InnerPlace place)
    {
        var key = (KeyOf(place.NsId), place.IfIndex);
        if (f.IndexedAt != key)
        {
            Unindex(f);
            _byPlace[key] = f;
            if (!_byNamespace.TryGetValue(key.Item1, out var here)) _byNamespace[key.Item1] = here = [];
            here.Add(f);
            f.IndexedAt = key;
        }
        var last = f.LastPlace;
        f.LastPlace = place;
        var a = f.Attachment;
        if (last is null || last.NsId == place.NsId || ReferenceEquals(place, a.MovedBySwitch)) return;
        _log(place.Namespace is null
            ? $"{a.Endpoint.Name}: its interface {a.InnerName} was moved to {place}, which mvtapd cannot reach: its link-layer groups are not followed"
            : $"{a.Endpoint.Name}: its interface {a.InnerName} was moved to {place} by its container; followed there");
        _movedOn(a, place.Namespace is { IsHome: false } ns ? ns.Name : null);
    }

    private void Unindex(InnerLinkFollower f)
    {
        _dirty.Remove(f);
        if (f.IndexedAt is not { } key) return;
        if (_byPlace.GetValueOrDefault(key) == f) _byPlace.Remove(key);
        if (_byNamespace.TryGetValue(key.NsKey, out var here) && here.Remove(f) && here.Count == 0) _byNamespace.Remove(key.NsKey);
        f.IndexedAt = null;
    }

    // Its outer end is unregistered, so the pair is: deleted inside the container, or gone with its namespace.
    // Moved out of the switch's namespace by someone else, it is mvtapd's own: moved back and carried again;
    // where that cannot be (out of reach, deleted there, its name or index taken here), the endpoint is
    // deleted as one whose interface is deleted, rather than shown up while it carries nothing.
    private void Gone(InnerLinkFollower f)
    {
        var a = f.Attachment;
        if (f.OuterMovedAway)
        {
            f.OuterMovedAway = false;
            var (nsId, ifIndex) = f.OuterMovedTo;
            string? failed = a.BringOuterBack(_host!, nsId, ifIndex, out string where);
            if (failed is null)
            {
                _log($"{a.Endpoint.Name}: its datapath's end {a.OuterName} was moved to {where}; it is mvtapd's: moved back and carried again");
                _anyChange = true;
                MarkDirty(f, relocate: true);
                return;
            }
            Forget(f);
            _gone(a, $"{a.Endpoint.Name}: its datapath's end {a.OuterName} was moved to {where} and cannot be moved back ({failed}); endpoint deleted");
            return;
        }
        Forget(f);
        var here = a.Place;
        string how = here?.Namespace is { Abandoned: true } ns ? $"went with {ns}" : $"was deleted in {here?.ToString() ?? "its namespace"}";
        _gone(a, $"{a.Endpoint.Name}: its interface {a.InnerName} {how}; endpoint deleted");
    }

    private void Report(InnerLinkFollower f, string message)
    {
        if (message == f.LastError) return;
        f.LastError = message;
        _log(message);
    }
}
