// Follows the lower devices through rtnetlink, by ifindex and name: one small thread reads link
// events (RTNLGRP_LINK) in the switch's namespace and in every namespace a lower was followed
// into. Per lower:
// - up/down, carrier, MTU, MAC go to the port (spec 4.5: endpoints lose carrier with the lower and
//   nothing is delivered, X09; MTU decreases 4.3; MAC changes 4.4, A16); a rename in the switch's
//   namespace renames the lower (its endpoints and the saved state follow);
// - moved to another namespace (RTM_DELLINK with IFLA_NEW_NETNSID): the kernel's macvlans keep
//   working, so mvtap follows it and reopens it there (NetnsLocator finds the namespace), or shows
//   it unreachable; moved back, it is reopened in the switch's namespace;
// - deleted: its endpoints lose carrier and keep their configuration (LowerGonePolicy.Keep, a
//   deliberate difference) until an interface with its name appears and is reopened, or the
//   switch's owner deletes them as the kernel does (LowerGone, LowerGonePolicy.Delete);
// - a namespace it was followed into that nothing reaches any more is let go of, so the kernel can
//   dismantle it (a physical NIC then comes home, and is reopened).
// Every step is logged, and told (changed) once the round that made it is over, so the owner can
// look again (`mvtap monitor`). Notifications can be lost (ENOBUFS) or arrive in another order across
// namespaces, so every ResyncInterval the state is also read whole; a lower such a read misses is
// taken for lost only when the next read misses it too (its notification may be on its way). The events are outside input:
// a malformed message is logged and skipped; nothing ends the thread.
using Microsoft.Extensions.Logging;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

namespace Mvtap.Datapath;

/// <summary>What mvtap does with the endpoints of a lower that is deleted: keep them (the default,
/// a deliberate difference) or delete them, as the kernel deletes a lower's macvlans.</summary>
public enum LowerGonePolicy { Keep, Delete }

internal sealed unsafe class LowerLinkMonitor : IDisposable
{
    /// <summary>How often the lowers' state is read whole, whatever the notifications said.</summary>
    public static readonly TimeSpan ResyncInterval = TimeSpan.FromSeconds(5);
    private const int PollMilliseconds = 200;

    private readonly LowerNamespace _home;
    private readonly List<LowerNamespace> _elsewhere = []; // monitor thread only
    private readonly Func<IReadOnlyList<LowerDatapath>> _lowers;
    private readonly Func<LowerGonePolicy> _policy;
    private readonly Action<LowerDatapath> _gone;
    private readonly Action<string> _appeared;
    private readonly Action _changed;
    private bool _anyChange; // monitor thread only: a lower's state was changed this round
    private readonly ILogger _log;
    private readonly HashSet<string> _complaints = new(StringComparer.Ordinal);
    private readonly List<LinkEvent> _events = [];
    private readonly List<string> _skipped = [];
    // lowers a whole read did not find where they were open, and where that was (monitor thread only)
    private readonly Dictionary<LowerDatapath, (LowerNamespace Ns, int IfIndex)> _missing = [];
    private readonly Thread _thread;
    private volatile bool _stopping;

    /// <param name="gone">a lower was deleted (called on the monitor thread, after its endpoints lost carrier).</param>
    /// <param name="appeared">an interface of that name appeared (or was seen again) in the switch's namespace.</param>
    /// <param name="changed">a lower's state changed (up/down, carrier, MTU, MAC, name, place): called on the monitor
    /// thread after the round that changed it; must return at once and take no lock.</param>
    public LowerLinkMonitor(string? netns, Func<IReadOnlyList<LowerDatapath>> lowers, Func<LowerGonePolicy> policy,
        Action<LowerDatapath> gone, Action<string> appeared, ILogger log, Action changed)
    {
        _changed = changed;
        _lowers = lowers;
        _policy = policy;
        _gone = gone;
        _appeared = appeared;
        _log = log;
        _home = LowerNamespace.Home(netns);
        try { _home.Watch(); }
        catch { _home.Dispose(); throw; }
        _thread = new Thread(Run) { IsBackground = true, Name = "mvtap lower monitor" };
        _thread.Start();
    }

    private void Run()
    {
        var buffer = new byte[64 * 1024];
        var nextResync = DateTime.UtcNow + ResyncInterval;
        while (!_stopping)
        {
            try
            {
                LowerNamespace[] watched = [_home, .. _elsewhere];
                var fds = new PollFd[watched.Length];
                for (int i = 0; i < watched.Length; i++) fds[i] = new PollFd { Fd = watched[i].Events!.Fd, Events = Sockets.POLLIN };
                // bounded, so Dispose is noticed; EINTR and errors leave revents 0
                fixed (PollFd* p = fds) _ = Sockets.poll(p, (nuint)fds.Length, PollMilliseconds);
                for (int i = 0; i < watched.Length && !_stopping; i++)
                    if (fds[i].Revents != 0) Read(watched[i], buffer);
                if (DateTime.UtcNow >= nextResync)
                {
                    nextResync = DateTime.UtcNow + ResyncInterval;
                    Resync();
                }
                DropUnused();
                if (_anyChange)
                {
                    _anyChange = false;
                    _changed();
                }
            }
            catch (Exception e)
            {
                Complain($"the lower monitor: {e.GetType().Name}: {e.Message}", e);
                Thread.Sleep(PollMilliseconds);
            }
        }
    }

    private void Read(LowerNamespace ns, byte[] buffer)
    {
        for (int k = 0; k < 64; k++)
        {
            int n = ns.Events!.Receive(buffer);
            if (n == 0) return;
            if (n < 0)
            {
                // notifications were lost: read the state whole instead
                Resync();
                if (ns.IsHome) foreach (var link in _home.Client!.GetLinks()) _appeared(link.Name);
                return;
            }
            Dispatch(ns, buffer.AsMemory(0, n));
        }
    }

    private void Dispatch(LowerNamespace ns, ReadOnlyMemory<byte> datagram)
    {
        _events.Clear();
        _skipped.Clear();
        LinkEvents.Read(datagram, _events, _skipped);
        foreach (var line in _skipped) Complain($"{line} from {ns} was skipped", null);
        foreach (var e in _events)
        {
            try { Handle(ns, e.Type, e.Link); }
            catch (Exception ex) { Complain($"a link event from {ns} ({e.Link.Name}) could not be followed ({ex.GetType().Name}: {ex.Message})", ex); }
        }
    }

    private void Handle(LowerNamespace ns, ushort type, LinkInfo link)
    {
        var lowers = _lowers();
        var dp = FindOpen(lowers, ns, link.Index);
        if (type == Rtnl.RTM_NEWLINK)
        {
            if (dp is not null) { Apply(dp, ns, link); return; }
            if (!ns.IsHome) return;
            if (_policy() == LowerGonePolicy.Keep
                && lowers.FirstOrDefault(l => !l.Lower.Status.IsOpen && l.Lower.Name == link.Name) is { } waiting)
                Reopen(waiting, _home, link, $"an interface named {link.Name} appeared");
            _appeared(link.Name);
            return;
        }
        if (dp is null) return;
        if (link.NewNetNsId is int nsid) Moved(dp, ns, nsid, link.NewIfIndex);
        else Gone(dp);
    }

    private static LowerDatapath? FindOpen(IReadOnlyList<LowerDatapath> lowers, LowerNamespace ns, int ifIndex)
    {
        foreach (var dp in lowers)
        {
            var l = dp.Lower;
            if (!l.Status.IsOpen || l.IfIndex != ifIndex) continue;
            if (ns.IsHome ? l.OpenElsewhere is null : l.OpenElsewhere == ns) return dp;
        }
        return null;
    }

    private void Apply(LowerDatapath dp, LowerNamespace ns, LinkInfo link)
    {
        var port = dp.Port;
        var lower = port.Lower;
        if (ns.IsHome && link.Name.Length > 0 && link.Name != lower.Name)
        {
            _log.LogInformation("lower {Old} was renamed {New}; its endpoints follow it", lower.Name, link.Name);
            port.OnLowerRenamed(link.Name);
            _anyChange = true;
        }
        bool carrier = PacketLower.CarrierOf(link);
        if (lower.IsUp != link.IsUp || lower.HasCarrier != carrier)
        {
            _log.LogInformation("lower {Name} is {State}{Carrier}", lower.Name, link.IsUp ? "up" : "down",
                link.IsUp ? carrier ? ", carrier on" : ", no carrier" : "");
            port.OnLowerStateChanged(link.IsUp, carrier);
            _anyChange = true;
        }
        if (link.Mtu != 0 && (int)link.Mtu != lower.Mtu)
        {
            _log.LogInformation("lower {Name}: mtu {Old} -> {New}", lower.Name, lower.Mtu, link.Mtu);
            port.OnLowerMtuChanged((int)link.Mtu);
            _anyChange = true;
        }
        // a change mvtap asked for itself (passthru, spec 4.4) is already the port's MAC here
        if (link.Address is { } mac && mac != lower.Mac)
        {
            _log.LogInformation("lower {Name}: address {Old} -> {New}", lower.Name, lower.Mac, mac);
            port.OnLowerMacChanged(mac);
            _anyChange = true;
        }
    }

    private void Moved(LowerDatapath dp, LowerNamespace from, int nsid, int? newIndex)
    {
        string name = dp.Lower.Name;
        var target = NetnsLocator.Resolve(from, nsid, [_home, .. _elsewhere]);
        if (target is null)
        {
            Lose(dp, new LowerStatus(LowerPresence.Unreachable,
                $"lower {name} was moved to a network namespace mvtapd cannot reach (netnsid {nsid} from {from})"));
            ReopenByName(dp);
            return;
        }
        if (!target.IsHome && !_elsewhere.Contains(target)) _elsewhere.Add(target);
        target.Watch(); // before the link is read, so no later event of it is missed
        var link = newIndex is int index ? target.Client!.GetLink(index) : null;
        if (link is null)
        {
            Lose(dp, new LowerStatus(LowerPresence.Unreachable, $"lower {name} was moved to {target} and is no longer there"));
            ReopenByName(dp);
            return;
        }
        Reopen(dp, target, link, $"moved to {target}");
    }

    private void Gone(LowerDatapath dp)
    {
        string name = dp.Lower.Name;
        bool keep = _policy() == LowerGonePolicy.Keep;
        Lose(dp, new LowerStatus(LowerPresence.Gone, $"lower {name} is gone"));
        _gone(dp);
        if (keep) ReopenByName(dp);
    }

    private void Reopen(LowerDatapath dp, LowerNamespace ns, LinkInfo link, string why)
    {
        string name = dp.Lower.Name;
        _anyChange = true;
        try
        {
            var opening = dp.Lower.OpenAt(ns.IsHome ? null : ns, ns.Client!, link);
            var status = ns.IsHome ? LowerStatus.Present : new LowerStatus(LowerPresence.Elsewhere,
                $"lower {name} was moved to netns {ns.Label} (as {link.Name}, ifindex {link.Index}); mvtapd follows it there", ns.Label);
            dp.ReopenLower(opening, status, link);
            if (ns.IsHome && link.Name != name) dp.Port.OnLowerRenamed(link.Name);
            _log.LogInformation("lower {Name}: {Why}; reopened in {Where} (ifindex {Index}), its endpoints forward through it again",
                name, why, ns, link.Index);
        }
        catch (Exception e) when (e is not ObjectDisposedException)
        {
            _log.LogWarning("lower {Name}: {Why}, but it cannot be opened: {Error}", name, why, e.Message);
            Lose(dp, new LowerStatus(LowerPresence.Unreachable, $"lower {name}: {why}, but it cannot be opened: {e.Message}"));
        }
    }

    private void Lose(LowerDatapath dp, LowerStatus status)
    {
        _anyChange = true;
        try
        {
            dp.LoseLower(status);
            _log.LogWarning("{Reason}; its endpoints have no carrier{Rest}", status.Reason,
                status.Presence == LowerPresence.Gone && _policy() == LowerGonePolicy.Delete
                    ? " and are deleted (--lower-gone delete)"
                    : " and keep their configuration until it is back");
        }
        catch (ObjectDisposedException) { /* closed meanwhile */ }
    }

    /// <summary>A lower that is not open: reopens an interface of its name in the switch's namespace, if there is one.</summary>
    private void ReopenByName(LowerDatapath dp)
    {
        if (_policy() != LowerGonePolicy.Keep || dp.Lower.Status.IsOpen) return;
        if (_home.Client!.GetLink(dp.Lower.Name) is not { } link || FindOpen(_lowers(), _home, link.Index) is not null) return;
        Reopen(dp, _home, link, $"an interface named {link.Name} is there");
    }

    private void Resync()
    {
        var lowers = _lowers();
        foreach (var stale in _missing.Keys.Where(k => !lowers.Contains(k)).ToList()) _missing.Remove(stale);
        foreach (var dp in lowers)
        {
            try
            {
                var lower = dp.Lower;
                if (!lower.Status.IsOpen) { _missing.Remove(dp); ReopenByName(dp); continue; }
                var ns = lower.OpenElsewhere ?? _home;
                if (ns.Client!.GetLink(lower.IfIndex) is { } link) { _missing.Remove(dp); Apply(dp, ns, link); continue; }
                // Not where it was. The kernel takes a device out of its namespace's list before it
                // announces the move or deletion (RTM_DELLINK, which says where it went), so the
                // notification may only be on its way: lost only when the next read misses it again.
                if (!(_missing.TryGetValue(dp, out var seen) && seen == (ns, lower.IfIndex)))
                {
                    _missing[dp] = (ns, lower.IfIndex);
                    continue;
                }
                _missing.Remove(dp);
                // its deletion or move was not seen: it is not where it was
                Lose(dp, new LowerStatus(LowerPresence.Unreachable, $"lower {lower.Name} is no longer at ifindex {lower.IfIndex} in {ns}"));
                ReopenByName(dp);
            }
            catch (Exception e) when (e is not ObjectDisposedException)
            {
                Complain($"lower {dp.Lower.Name} could not be read: {e.Message}", e);
            }
        }
        foreach (var ns in _elsewhere.ToArray())
        {
            var there = _lowers().Where(l => l.Lower.OpenElsewhere == ns).ToList();
            if (there.Count == 0 || NetnsLocator.IsReachable(ns)) continue;
            // Holding it keeps it alive: let go, so the kernel dismantles it (a physical NIC comes home).
            foreach (var dp in there)
                Lose(dp, new LowerStatus(LowerPresence.Unreachable,
                    $"lower {dp.Lower.Name} was in netns {ns.Label}, which no process uses and no name holds any more; mvtapd let go of it"));
        }
    }

    // Namespaces no lower is open in any more are closed (their descriptors keep them alive).
    private void DropUnused()
    {
        if (_elsewhere.Count == 0) return;
        var lowers = _lowers();
        foreach (var ns in _elsewhere.ToArray())
        {
            if (lowers.Any(l => l.Lower.OpenElsewhere == ns)) continue;
            _elsewhere.Remove(ns);
            ns.Dispose();
        }
    }

    // The first occurrence of each complaint at warning level, repeats at debug: bad input must not flood the log.
    private void Complain(string message, Exception? e)
    {
        if (_complaints.Count > 256) _complaints.Clear();
        if (_complaints.Add(message)) _log.LogWarning(e, "{Message}", message);
        else _log.LogDebug("{Message}", message);
    }

    public void Dispose()
    {
        _stopping = true;
        if (!_thread.Join(5000)) return; // it is in a system call that bounds itself; leave its sockets
        foreach (var ns in _elsewhere) ns.Dispose();
        _elsewhere.Clear();
        _home.Dispose();
    }
}
