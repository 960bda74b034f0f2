// The one way a macvlan endpoint's multicast filter follows its interface's link-layer multicast
// list and ALLMULTI/PROMISC (spec 1.5: the kernel builds the filter from the device's list). Two
// threads apply lists: InnerLinkMonitor's (what the container and its IP stack do) and the thread
// that brings the interface up for mvtap (MacvlanAttachment.SyncInner: the groups the stack joins
// inside dev_open, in the filter before the change returns, as the kernel's are).
//
// Followed by changes, not level: groups set on the endpoint through the port's API stay, only what
// the interface joined and left is applied. Each list carries the stamp taken before it was read
// (ReadStamp), so a list read before another one already applied is stale and skipped. The port is
// never changed under this object's lock (a change waits for the port's handlers, which may be the
// other applier waiting for this lock); when two applications overlap, the last to finish applies
// again, as a level, every group either touched, so the filter ends as the newest list says.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;

namespace Mvtap.Datapath;

internal sealed class InnerMulticast(Endpoint endpoint)
{
    private static long s_reads;

    /// <summary>Taken before a multicast list is read: a later stamp reads a list no older.</summary>
    public static long ReadStamp() => Interlocked.Increment(ref s_reads);

    private readonly object _gate = new();
    private readonly HashSet<MacAddress> _followed = [];
    private readonly HashSet<MacAddress> _touched = []; // by the applications under way (since none was)
    private bool _allMulti, _promisc;
    private long _stamp;
    private int _inFlight;
    private bool _overlapped;

    /// <summary>Applies one observation: <paramref name="groups"/> (null: not readable, the groups followed
    /// stay) read after <paramref name="stamp"/> was taken; ALLMULTI/PROMISC null: not observed.</summary>
    public void Follow(IReadOnlyCollection<MacAddress>? groups, long stamp, bool? allMulti = null, bool? promisc = null)
    {
        List<MacAddress> join, leave;
        bool? setAllMulti = null, setPromisc = null;
        lock (_gate)
        {
            if (groups is not null && stamp < _stamp) groups = null; // an older read than one applied already
            join = groups is null ? [] : [.. groups.Where(g => g.IsMulticast && !_followed.Contains(g))];
            leave = groups is null ? [] : [.. _followed.Where(g => !groups.Contains(g))];
            if (allMulti is { } a && a != _allMulti) { setAllMulti = a; _allMulti = a; }
            if (promisc is { } p && p != _promisc) { setPromisc = p; _promisc = p; }
            if (join.Count == 0 && leave.Count == 0 && setAllMulti is null && setPromisc is null) return;
            foreach (var g in join) _followed.Add(g);
            foreach (var g in leave) _followed.Remove(g);
            if (groups is not null) _stamp = stamp;
            if (_inFlight++ > 0) _overlapped = true;
            _touched.UnionWith(join);
            _touched.UnionWith(leave);
        }
        while (true)
        {
            bool applied = false;
            try
            {
                endpoint.Port.Change(endpoint, new EndpointChange
                {
                    JoinGroups = join, LeaveGroups = leave, AllMulti = setAllMulti, Promisc = setPromisc,
                });
                applied = true;
            }
            finally
            {
                lock (_gate)
                {
                    join = leave = [];
                    setAllMulti = setPromisc = null;
                    if (--_inFlight == 0)
                    {
                        // the last of overlapping applications: the port may have taken them in another order
                        if (applied && _overlapped)
                        {
                            join = [.. _touched.Where(_followed.Contains)];
                            leave = [.. _touched.Where(g => !_followed.Contains(g))];
                        }
                        _touched.Clear();
                        _overlapped = false;
                        if (join.Count + leave.Count > 0)
                        {
                            _inFlight++;
                            _touched.UnionWith(join);
                            _touched.UnionWith(leave);
                        }
                    }
                }
            }
            if (join.Count + leave.Count == 0) return;
        }
    }
}
