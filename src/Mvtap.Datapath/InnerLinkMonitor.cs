// Follows the inner ends of a switch's macvlan endpoints (the containers' NICs) and hands what it
// sees to each endpoint's InnerLinkFollower: up/down, MAC, MTU, ALLMULTI/PROMISC and the link-layer
// multicast list (the endpoint's multicast filter, spec 1.5). One thread for the whole switch.
//
// Without a gap: where a NIC is (InnerPlace) is read from its outer end, whoever moved or renamed it.
// One rtnetlink socket in the switch's namespace listens to every namespace that has a netnsid there
// (NETLINK_LISTEN_ALL_NSID; InnerNamespaces gives each followed namespace one, before mvtap moves a
// NIC in), for link changes and IPv4/IPv6 group joins; it holds no namespace alive. A link
// notification only says "look again": the NIC is re-read whole (through the switch's namespace,
// IFLA_TARGET_NETNSID), so a lost or stale one costs nothing, and a NIC gone from where it was is
// looked for again from its outer end: moved on (followed there), or unregistered (its outer end is
// gone too: the endpoint is deleted, as the kernel deletes a macvlan whose device is deleted).
// Link-layer joins (`ip maddr add`, PACKET_MR_MULTICAST) send no notification at all: every
// followed namespace's /proc/net/dev_mcast, kept open, is re-read every DefaultMulticastInterval (one pread
// each; parsed only when it changed). Nor do a packet socket's ALLMULTI and PROMISC (only counters
// change): each NIC's link is re-read once every LinkInterval, in turn. (An eBPF fentry program on
// __dev_set_rx_mode would make both event-driven; a kernel locked down for integrity, as this
// project's is, refuses tracing programs.) A namespace nobody but mvtap uses any more is let go of
// (InnerNamespaces.Sweep), so the kernel can destroy it and the NICs in it.
//
// What changed an endpoint (its NIC set down/up, given a MAC or MTU, renamed) is told (changed) once
// the round that applied it is over, so the owner can look again (`mvtap monitor`); a NIC moved on or
// unregistered is told through movedOn and gone.
//
// Never takes a lock the datapath takes; never throws out of its thread (a failure is logged once
// and the NIC looked at again later); notifications are outside input (LinkNotification).
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

namespace Mvtap.Datapath;

internal sealed unsafe partial class InnerLinkMonitor : IDisposable
{
    /// <summary>How often each followed namespace's link-layer multicast list is re-read by default.</summary>
    public static readonly TimeSpan DefaultMulticastInterval = TimeSpan.FromMilliseconds(25);
    /// <summary>How often each NIC's link is re-read without a notification (ALLMULTI/PROMISC counters of packet sockets).</summary>
    public static readonly TimeSpan LinkInterval = TimeSpan.FromSeconds(1);
    /// <summary>How often namespaces are checked for users besides mvtap (also on every mount change).</summary>
    public static readonly TimeSpan UseCheckInterval = TimeSpan.FromSeconds(2);
    /// <summary>Every NIC is looked for and re-read this often without a notification (a net under the others).</summary>
    public static readonly TimeSpan ResyncInterval = TimeSpan.FromSeconds(10);
    private const int RetryMilliseconds = 20;   // a NIC caught in the middle of a move is looked for again this soon,
    private const int MaxRetries = 50;          // this many times; then at the next resync
    private const int MountCheckMilliseconds = 250;

    private readonly InnerNamespaces _namespaces;
    private readonly Action<string> _log;
    private readonly Action<MacvlanAttachment, string> _gone;
    private readonly Action<MacvlanAttachment, string?> _movedOn;
    private readonly Action _changed;
    private bool _anyChange; // this thread only: an endpoint was changed this round
    private readonly long _multicastTicks;
    private readonly object _gate = new(); // guards _commands; never held while calling out
    private readonly List<(MacvlanAttachment Attachment, Command Command)> _commands = [];
    private readonly FileDescriptor _wake = EventFd.Create();
    private readonly Thread _thread;
    private volatile bool _stopping;
    private long _malformed;

    private enum Command { Add, Remove, Moved }

    /// <param name="gone">a NIC was unregistered (its pair is gone): the attachment and the line to log; on this thread.</param>
    /// <param name="movedOn">a NIC was moved to another namespace by someone else: its name under /run/netns, if any.</param>
    /// <param name="changed">a NIC's up/down, MAC, MTU or name changed and its endpoint followed: called on this
    /// thread after the round; must return at once and take no lock.</param>
    public InnerLinkMonitor(InnerNamespaces namespaces, Action<string> log, Action<MacvlanAttachment, string> gone,
        Action<MacvlanAttachment, string?> movedOn, Action changed, TimeSpan? multicastInterval = null)
    {
        _changed = changed;
        _namespaces = namespaces;
        _log = log;
        _gone = gone;
        _movedOn = movedOn;
        _multicastTicks = (long)(multicastInterval ?? DefaultMulticastInterval).TotalMilliseconds;
        _thread = new Thread(Run) { IsBackground = true, Name = "mvtap inner link monitor" };
        _thread.Start();
    }

    /// <summary>Notification datagrams that did not decode (counted and dropped; everything is re-read).</summary>
    public long MalformedNotifications => Interlocked.Read(ref _malformed);

    public void Add(MacvlanAttachment attachment) => Enqueue(attachment, Command.Add);

    /// <summary>Stops following; the thread forgets the NIC on its next round.</summary>
    public void Remove(MacvlanAttachment attachment) => Enqueue(attachment, Command.Remove);

    /// <summary>mvtap moved the NIC (MacvlanAttachment.MoveTo): re-read it where it is now.</summary>
    public void Moved(MacvlanAttachment attachment) => Enqueue(attachment, Command.Moved);

    private void Enqueue(MacvlanAttachment attachment, Command command)
    {
        lock (_gate) _commands.Add((attachment, command));
        try { EventFd.Signal(_wake.Fd); } catch (SystemCallException) { /* disposed: stopping */ }
    }

    // ---- the thread ----------------------------------------------------------------------------

    private RtnetlinkSubscription? _events;
    private Rtnetlink? _host;
    private FileDescriptor? _mounts;
    private InnerNamespace[] _spaces = [];
    private int _spacesVersion = -1;

    private void Run()
    {
        try
        {
            _events = _namespaces.Home.Run(() => new RtnetlinkSubscription([RtnetlinkSubscription.RTNLGRP_LINK],
                [RtnetlinkSubscription.RTNLGRP_IPV4_MCADDR, RtnetlinkSubscription.RTNLGRP_IPV6_MCADDR],
                allNamespaces: true, receiveBuffer: 4 << 20));
            _host = _namespaces.Home.Run(() => new Rtnetlink());
            try { _mounts = FileIo.Open("/proc/self/mountinfo", FileIo.O_RDONLY); } catch (SystemCallException) { /* checked on the timer only */ }
        }
        catch (Exception e)
        {
            _log($"the containers' NICs cannot be followed: {e.Message}");
            return;
        }
        var buffer = new byte[64 * 1024];
        var fds = new PollFd[3];
        long now = Environment.TickCount64;
        long lastUseCheck = now, nextMulticast = now, nextUseCheck = now + (long)UseCheckInterval.TotalMilliseconds, nextResync = now + (long)ResyncInterval.TotalMilliseconds;
        while (!_stopping)
        {
            try
            {
                now = Environment.TickCount64;
                long wakeAt = Math.Min(Math.Min(nextMulticast, nextUseCheck), Math.Min(nextResync, NextRetry()));
                fds[0] = new PollFd { Fd = _events.Fd, Events = Sockets.POLLIN };
                fds[1] = new PollFd { Fd = _wake.Fd, Events = Sockets.POLLIN };
                fds[2] = new PollFd { Fd = _mounts?.Fd ?? -1, Events = POLLPRI };
                // EINTR and errors leave revents 0: nothing read this round
                fixed (PollFd* p = fds) _ = Sockets.poll(p, 3, (int)Math.Clamp(wakeAt - now, 0, 1000));
                if (_stopping) break;
                now = Environment.TickCount64;
                if (fds[1].Revents != 0) EventFd.Drain(_wake.Fd);
                TakeCommands();
                if (fds[0].Revents != 0) ReadNotifications(buffer);
                if (fds[2].Revents != 0)
                {
                    // a namespace unmounted (`ip netns del`) may have lost its last user: look soon, but
                    // at most every MountCheckMilliseconds however busy the machine's mounts are (the
                    // poll itself takes the change as seen: mounts_poll)
                    nextUseCheck = Math.Min(nextUseCheck, lastUseCheck + MountCheckMilliseconds);
                }
                if (now >= nextUseCheck)
                {
                    lastUseCheck = now;
                    nextUseCheck = now + (long)UseCheckInterval.TotalMilliseconds;
                    LetGoOfUnused(checkUse: true);
                }
                else LetGoOfUnused(checkUse: false);
                _refreshed.Clear();
                if (now >= nextMulticast)
                {
                    PollLinks(now - (nextMulticast - _multicastTicks));
                    nextMulticast = now + _multicastTicks;
                    PollMulticast();
                }
                if (now >= nextResync)
                {
                    nextResync = now + (long)ResyncInterval.TotalMilliseconds;
                    foreach (var f in _followers.Values) MarkDirty(f, relocate: true);
                }
                SyncDirty(now);
                if (_anyChange)
                {
                    _anyChange = false;
                    _changed();
                }
            }
            catch (Exception e)
            {
                // nothing ends this thread; the next round starts from what is known
                _log($"following the containers' NICs: {e.GetType().Name}: {e.Message}");
                Thread.Sleep(RetryMilliseconds);
            }
        }
        _events.Dispose();
        _host.Dispose();
        _mounts?.Dispose();
    }

    private const short POLLPRI = 2;

    private void TakeCommands()
    {
        (MacvlanAttachment, Command)[] commands;
        lock (_gate)
        {
            if (_commands.Count == 0) return;
            commands = [.. _commands];
            _commands.Clear();
        }
        foreach (var (a, command) in commands)
        {
            switch (command)
            {
                case Command.Add:
                    if (!_followers.ContainsKey(a)) Follow(new InnerLinkFollower(a, _log));
                    MarkDirty(_followers[a], relocate: a.Place is null);
                    break;
                case Command.Remove:
                    if (_followers.TryGetValue(a, out var removed)) Forget(removed);
                    break;
                case Command.Moved when _followers.TryGetValue(a, out var f):
                    f.LastPlace = a.Place; // mvtap's own move: not news to log
                    MarkDirty(f, relocate: false);
                    break;
            }
        }
    }

    // Every queued datagram (bounded per round); each notification marks the NIC it is about.
    private void ReadNotifications(byte[] buffer)
    {
        Span<LinkNotification> seen = stackalloc LinkNotification[256];
        for (int k = 0; k < 256; k++)
        {
            int n = _events!.Receive(buffer, out int nsid);
            if (n == 0) return;
            if (n < 0)
            {
                // notifications were lost (the socket overflowed): look at everything again
                foreach (var f in _followers.Values) MarkDirty(f, relocate: true);
                continue;
            }
            int count = LinkNotification.Decode(buffer.AsSpan(0, n), seen, out bool malformed);
            if (malformed) Interlocked.Increment(ref _malformed);
            for (int i = 0; i < count; i++) Notice(nsid, seen[i]);
            if (malformed || count == seen.Length)
                foreach (var f in _followers.Values) MarkDirty(f, relocate: true);
        }
    }

    private void PollMulticast()
    {
        if (_namespaces.Version != _spacesVersion)
        {
            _spacesVersion = _namespaces.Version;
            _spaces = _namespaces.All();
        }
        foreach (var ns in _spaces)
        {
            if (!ns.IsOpen || !_refreshed.Add(ns) || !ns.RefreshMulticast()) continue;
            if (_byNamespace.TryGetValue(KeyOf(ns.NsId), out var here))
                foreach (var f in here) MarkDirty(f, relocate: false);
        }
    }

    public void Dispose()
    {
        _stopping = true;
        try { EventFd.Signal(_wake.Fd); } catch (SystemCallException) { }
        _thread.Join(5000);
        _wake.Dispose();
    }
}
