// Publishes endpoint changes to `mvtap monitor` clients without ever blocking who changed them.
// Changes are found by comparing looks at every endpoint (LinkChangeDiffer): right after each
// control request that may change something (before it is answered, so a client that watches and
// then changes sees its change), and whenever the registry says the system changed something
// (LinkRegistry.SystemChanged, pushed as it happens): a lower gone, back or moved, its datapath
// thread failed or restarted, what the datapath's rtnetlink link monitors saw (a lower's carrier,
// up/down or MAC; an endpoint's interface set down/up, given a MAC, renamed, moved on or deleted
// where it lives), a saved endpoint restored when its lower appeared. Nothing else changes what
// the looks compare, so there is no periodic look: the link monitors' own periodic re-reads (for
// notifications lost to a full socket) push what they find too. Each subscriber has a bounded
// queue: one that reads too slowly loses events, counted, and gets a "lost" event saying how many
// before the next one that fits.
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Mvtap.Control;

namespace Mvtap.Daemon.Events;

public sealed class LinkEventHub : IDisposable
{
    public const int DefaultQueueCapacity = 1024;

    private readonly Func<IReadOnlyList<LinkView>?> _look;
    private readonly ILogger _log;
    private readonly int _capacity;
    private readonly object _diffLock = new();
    private Dictionary<int, LinkView> _last = [];
    private volatile Subscriber[] _subscribers = [];

    /// <param name="look">Every endpoint now, or null when it cannot be had (the registry is going away).</param>
    public LinkEventHub(Func<IReadOnlyList<LinkView>?> look, ILogger log, int queueCapacity = DefaultQueueCapacity)
    {
        _look = look;
        _log = log;
        _capacity = queueCapacity;
    }

    public int SubscriberCount => _subscribers.Length;

    /// <summary>A new subscriber, who gets the changes from now on.</summary>
    public Subscriber Subscribe()
    {
        var subscriber = new Subscriber(_capacity);
        lock (_diffLock)
        {
            // the others get what changed until now; the newcomer starts from here
            if (_subscribers.Length > 0) RefreshLocked();
            else if (_look() is { } views) _last = ByIndex(views);
            _subscribers = [.. _subscribers, subscriber];
        }
        return subscriber;
    }

    public void Unsubscribe(Subscriber subscriber)
    {
        lock (_diffLock) _subscribers = [.. _subscribers.Where(s => s != subscriber)];
        subscriber.Complete();
    }

    /// <summary>Looks at every endpoint and publishes what changed since the last look (nothing to
    /// do without subscribers). Never throws: a look that fails is logged and the next one tries again.</summary>
    public void Refresh()
    {
        if (_subscribers.Length == 0) return;
        try
        {
            lock (_diffLock) RefreshLocked();
        }
        catch (Exception e)
        {
            _log.LogError(e, "monitor: looking at the endpoints failed");
        }
    }

    private void RefreshLocked()
    {
        if (_look() is not { } views) return;
        var now = ByIndex(views);
        var events = LinkChangeDiffer.Diff(_last, now);
        _last = now;
        foreach (var subscriber in _subscribers)
            foreach (var e in events) subscriber.Offer(e);
    }

    private static Dictionary<int, LinkView> ByIndex(IReadOnlyList<LinkView> views) => views.ToDictionary(v => v.Index);

    public void Dispose()
    {
        foreach (var s in _subscribers) s.Complete();
    }

    /// <summary>One client's bounded queue of events.</summary>
    public sealed class Subscriber
    {
        private readonly Channel<LinkEvent> _queue;
        private long _lostSinceTold, _lost;

        internal Subscriber(int capacity) =>
            _queue = Channel.CreateBounded<LinkEvent>(new BoundedChannelOptions(capacity) { SingleReader = true, SingleWriter = true });

        public ChannelReader<LinkEvent> Events => _queue.Reader;

        /// <summary>Events this subscriber lost in all.</summary>
        public long Lost => Interlocked.Read(ref _lost);

        // under the hub's diff lock: one writer
        internal void Offer(LinkEvent e)
        {
            if (_lostSinceTold > 0)
            {
                if (!_queue.Writer.TryWrite(new LinkEvent { Kind = LinkEvent.Lost, LostCount = _lostSinceTold })) { Count(); return; }
                _lostSinceTold = 0;
            }
            if (!_queue.Writer.TryWrite(e)) Count();
        }

        private void Count()
        {
            _lostSinceTold++;
            Interlocked.Increment(ref _lost);
        }

        internal void Complete() => _queue.Writer.TryComplete();
    }
}
