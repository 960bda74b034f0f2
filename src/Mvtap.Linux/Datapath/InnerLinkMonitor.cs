// Watches the inner ends of a switch's macvlan endpoints (the containers' NICs) and hands what it
// sees to each endpoint's InnerLinkFollower: up/down, MAC, MTU, ALLMULTI/PROMISC and the link-layer
// multicast list (the endpoint's multicast filter, spec 1.5). One thread for the whole switch.
//
// Per watched interface, opened inside its namespace (and re-opened when the endpoint is moved,
// LinuxSwitch.MoveEndpoint): an rtnetlink socket subscribed to link changes and to IPv4/IPv6 group
// joins (RTNLGRP_LINK, RTNLGRP_IPV4/IPV6_MCADDR, 6.13+), an rtnetlink client to read the link, and
// /proc/net/dev_mcast. Notifications only wake the thread; the state is always re-read whole, so a
// lost or stale notification costs nothing. Link-layer joins (`ip maddr add` = SIOCADDMULTI, packet
// sockets' PACKET_MR_MULTICAST) send no notification at all, hence the periodic re-read of every
// watch (ReReadInterval): such a join is followed within that interval.
//
// Never takes a lock the datapath takes; never throws out of its thread (a failure is logged and the
// watch tried again on the next round).
using Mvtap.Core.Model;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

namespace Mvtap.Linux.Datapath;

internal sealed unsafe class InnerLinkMonitor : IDisposable
{
    /// <summary>How often every watch is re-read without a notification (link-layer joins have none).</summary>
    public static readonly TimeSpan ReReadInterval = TimeSpan.FromSeconds(1);
    private const int PollMilliseconds = 200; // bounds how long Dispose and new watches wait

    private readonly object _gate = new(); // guards _watches; never held while calling a port
    private readonly List<Watch> _watches = [];
    private readonly Action<string> _log;
    private readonly Thread _thread;
    private volatile bool _stopping;

    public InnerLinkMonitor(Action<string> log)
    {
        _log = log;
        _thread = new Thread(Run) { IsBackground = true, Name = "mvtap inner link monitor" };
        _thread.Start();
    }

    public void Add(MacvlanAttachment attachment)
    {
        lock (_gate) _watches.Add(new Watch(new InnerLinkFollower(attachment, _log)));
    }

    /// <summary>Stops watching; the thread closes the watch's sockets on its next round.</summary>
    public void Remove(MacvlanAttachment attachment)
    {
        lock (_gate) foreach (var w in _watches) if (w.Follower.Attachment == attachment) w.Removed = true;
    }

    /// <summary>The inner end moved to another namespace: re-open the watch there.</summary>
    public void Moved(MacvlanAttachment attachment)
    {
        lock (_gate) foreach (var w in _watches) if (w.Follower.Attachment == attachment) w.Reopen = true;
    }

    private sealed class Watch(InnerLinkFollower follower) : IDisposable
    {
        public InnerLinkFollower Follower { get; } = follower;
        public volatile bool Removed, Reopen = true;
        public RtnetlinkSubscription? Events;
        public Rtnetlink? Client;
        public LinkMulticastList? Multicast;
        public int IfIndex;
        /// <summary>The last failure was logged; a repeat is not.</summary>
        public string? LastError;

        public bool IsOpen => Events is not null;

        public void Dispose()
        {
            Events?.Dispose();
            Client?.Dispose();
            Multicast?.Dispose();
            Events = null;
            Client = null;
            Multicast = null;
        }
    }

    private void Run()
    {
        var buffer = new byte[64 * 1024];
        var ready = new List<Watch>();
        var nextReRead = DateTime.UtcNow;
        while (!_stopping)
        {
            Watch[] watches;
            lock (_gate)
            {
                foreach (var w in _watches.Where(w => w.Removed)) w.Dispose();
                _watches.RemoveAll(w => w.Removed);
                watches = [.. _watches];
            }
            foreach (var w in watches)
                if (w.Reopen) Open(w);

            var open = watches.Where(w => w.IsOpen).ToArray();
            var fds = new PollFd[open.Length];
            for (int i = 0; i < open.Length; i++) fds[i] = new PollFd { Fd = open[i].Events!.Fd, Events = Sockets.POLLIN };
            // with no watch this only waits; EINTR and errors leave revents 0 (nothing read this round)
            fixed (PollFd* p = fds) _ = Sockets.poll(p, (nuint)fds.Length, PollMilliseconds);

            ready.Clear();
            bool reReadAll = DateTime.UtcNow >= nextReRead;
            if (reReadAll) nextReRead = DateTime.UtcNow + ReReadInterval;
            for (int i = 0; i < open.Length; i++)
            {
                if (fds[i].Revents == 0 && !reReadAll) continue;
                // drain: the notifications only say "something changed in that namespace"
                for (int k = 0; k < 64 && open[i].Events!.Receive(buffer) != 0; k++) { }
                ready.Add(open[i]);
            }
            foreach (var w in ready)
                if (!w.Removed && !_stopping) Sync(w);
        }
        lock (_gate)
        {
            foreach (var w in _watches) w.Dispose();
            _watches.Clear();
        }
    }

    // On this thread: setns moves only the calling thread, and what is opened inside stays there.
    private void Open(Watch w)
    {
        w.Reopen = false;
        w.Dispose();
        var a = w.Follower.Attachment;
        try
        {
            var ns = a.InnerNamespaceOrHost;
            (w.Events, w.Client, w.Multicast) = ns is null ? OpenHere() : NetNamespace.Run(ns, OpenHere);
            // by index first: the interface may have been renamed before this watch opened
            w.IfIndex = (a.InnerIfIndex > 0 ? w.Client.GetLink(a.InnerIfIndex)?.Index : null)
                ?? w.Client.GetLink(a.InnerName)?.Index
                ?? throw new MvtapException(Errno.ENODEV, $"no interface {a.InnerName} in {ns ?? "the switch's namespace"}");
            w.LastError = null;
            Sync(w);
        }
        catch (Exception e)
        {
            // its namespace is gone (and the pair with it), or not there yet: not followed until moved again
            w.Dispose();
            Report(w, $"{a.Endpoint.Name}: cannot watch {a.InnerName}: {e.Message}");
        }
    }

    private static (RtnetlinkSubscription, Rtnetlink, LinkMulticastList) OpenHere()
    {
        var events = new RtnetlinkSubscription([RtnetlinkSubscription.RTNLGRP_LINK],
            [RtnetlinkSubscription.RTNLGRP_IPV4_MCADDR, RtnetlinkSubscription.RTNLGRP_IPV6_MCADDR]);
        Rtnetlink? client = null;
        try
        {
            client = new Rtnetlink();
            return (events, client, LinkMulticastList.OpenCurrent());
        }
        catch
        {
            events.Dispose();
            client?.Dispose();
            throw;
        }
    }

    private void Sync(Watch w)
    {
        var a = w.Follower.Attachment;
        try
        {
            long generation = a.PushGeneration;
            var link = w.Client!.GetLink(w.IfIndex);
            if (link is null)
            {
                // moved by the switch (re-opened in the new namespace next round), or deleted, or
                // moved elsewhere by someone else: nothing left to follow here
                if (w.Reopen) return;
                w.Dispose();
                Report(w, $"{a.Endpoint.Name}: {a.InnerName} left its namespace; no longer followed");
                return;
            }
            if (link.Name != a.InnerName)
            {
                _log($"{a.Endpoint.Name}: its interface {a.InnerName} is now called {link.Name}; followed under that name");
                a.FollowRename(link.Name);
            }
            var groups = w.Multicast!.Read(w.IfIndex);
            w.Follower.Apply(new InnerLinkState(
                Up: link.IsUp,
                Mac: link.Address ?? a.InnerMac,
                Mtu: (int)link.Mtu,
                // the counters, not the flags: ifi_flags shows only the user-set (gflags) part, while the
                // kernel's filter (spec 1.5) sees dev->flags, set by any user (tcpdump, packet sockets)
                AllMulti: (link.Flags & Rtnl.IFF_ALLMULTI) != 0 || link.Allmulti > 0,
                Promisc: (link.Flags & Rtnl.IFF_PROMISC) != 0 || link.Promiscuity > 0,
                Groups: groups.ToHashSet()), generation);
            w.LastError = null;
        }
        catch (Exception e) when (!a.Endpoint.IsDeleted)
        {
            Report(w, $"{a.Endpoint.Name}: following {a.InnerName} failed: {e.Message}");
        }
        catch (Exception)
        {
            // removed while we looked: the watch goes on the next round
        }
    }

    private void Report(Watch w, string message)
    {
        if (message == w.LastError) return;
        w.LastError = message;
        _log(message);
    }

    public void Dispose()
    {
        _stopping = true;
        _thread.Join(5000);
    }
}
