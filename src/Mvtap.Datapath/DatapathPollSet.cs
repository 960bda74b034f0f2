// What one datapath thread waits on: an epoll set over the control plane's wake-up eventfd, the
// lower's socket (whichever "open" of the lower is current) and every attached endpoint's poll
// descriptors, with the attachments indexed by endpoint slot so a readiness event finds its
// attachment without a lookup table. Once the thread runs, only the thread touches the slots;
// while it does not (stopped, or waiting out a restart back-off) its owner may.
using Mvtap.Linux;
using Mvtap.Linux.Interop;

namespace Mvtap.Datapath;

internal sealed class DatapathPollSet : IDisposable
{
    public const ulong WakeToken = 0;
    public const ulong LowerToken = 1;

    private readonly Epoll _epoll = new();
    private readonly FileDescriptor _wake = EventFd.Create();
    private readonly int[] _fdScratch = new int[LowerDatapath.MaxPollFds];
    private uint _nextId = 1;
    private int _lowerFd = -1;

    public DatapathPollSet() => _epoll.Add(_wake.Fd, EpollSyscalls.EPOLLIN, WakeToken);

    /// <summary>Indexed by endpoint slot; iterate with foreach (an array: nothing allocated).</summary>
    public Attached?[] Slots { get; private set; } = new Attached?[8];

    public int Wait(EpollEvent[] events, int timeoutMs) => _epoll.Wait(events, timeoutMs);

    /// <summary>Wakes the thread (any thread may call it).</summary>
    public void Signal()
    {
        try { EventFd.Signal(_wake.Fd); } catch (ObjectDisposedException) { /* stopping */ }
    }

    public void DrainWake() => EventFd.Drain(_wake.Fd);

    /// <summary>Polls <paramref name="socket"/> as the lower (null: the lower has no open socket).</summary>
    public void WatchLower(PacketSocket? socket)
    {
        if (_lowerFd >= 0)
        {
            try { _epoll.Remove(_lowerFd); } catch (SystemCallException) { /* its device went away with it */ }
            _lowerFd = -1;
        }
        if (socket is null) return;
        _epoll.Add(socket.Handle.Fd, EpollSyscalls.EPOLLIN, LowerToken);
        _lowerFd = socket.Handle.Fd;
    }

    // token: attachment id (32 bits) | poll source (8 bits) | endpoint slot (24 bits)
    private static ulong Token(Attached a, int source) => ((ulong)a.Id << 32) | ((ulong)(uint)source << 24) | (uint)a.Slot;

    public static int SourceOf(ulong token) => (int)((token >> 24) & 0xFF);

    public Attached? Find(ulong token)
    {
        int slot = (int)(token & 0xFF_FFFF);
        uint id = (uint)(token >> 32);
        var a = (uint)slot < (uint)Slots.Length ? Slots[slot] : null;
        // A stale event for an endpoint detached earlier in this same wake-up: ignore it.
        return a is not null && a.Id == id ? a : null;
    }

    public Attached? AtSlot(int slot) => (uint)slot < (uint)Slots.Length ? Slots[slot] : null;

    public Attached? Of(IEndpointAttachment attachment) =>
        AtSlot(attachment.Endpoint.Slot) is { } a && a.Attachment == attachment ? a : null;

    /// <summary>Puts <paramref name="attachment"/> in its endpoint's slot, replacing (and unregistering) any other.</summary>
    public Attached Add(IEndpointAttachment attachment)
    {
        int slot = attachment.Endpoint.Slot;
        if (slot >= Slots.Length)
        {
            var slots = Slots;
            Array.Resize(ref slots, Math.Max(slot + 1, slots.Length * 2));
            Slots = slots;
        }
        if (Slots[slot] is { } old) Remove(old);
        var a = new Attached(attachment, _nextId++, slot);
        Slots[slot] = a;
        return a;
    }

    public void Remove(Attached a)
    {
        Unregister(a);
        Slots[a.Slot] = null;
        a.Attachment.SetDatapath(null);
    }

    public void Register(Attached a)
    {
        int n = a.Attachment.GetPollFds(_fdScratch);
        a.FdCount = 0;
        for (int i = 0; i < n && i < LowerDatapath.MaxPollFds; i++)
        {
            int fd = _fdScratch[i];
            if (fd < 0) continue;
            try
            {
                _epoll.Add(fd, EpollSyscalls.EPOLLIN, Token(a, i));
                a.Fds[a.FdCount++] = fd;
            }
            catch (SystemCallException)
            {
                // closed under us by its owner (a frontend going away): the resync that follows re-reads
            }
        }
    }

    public void Unregister(Attached a)
    {
        // Each number must still name the file registered under it: closing a descriptor does not
        // take its file out of the set while another process (a vhost-user frontend) holds it, and
        // a number reused by another open would make this DEL miss the old entry or remove a
        // stranger's. Owners therefore keep what GetPollFds returned open until the next
        // GetPollFds or SetDatapath(null) (vhost-user kicks), or close it through Unwatch.
        for (int i = 0; i < a.FdCount; i++)
        {
            try { _epoll.Remove(a.Fds[i]); } catch (SystemCallException) { }
        }
        a.FdCount = 0;
    }

    /// <summary>Takes <paramref name="fd"/> of <paramref name="attachment"/> out of the set before its owner closes it.</summary>
    public void Unwatch(IEndpointAttachment attachment, int fd)
    {
        if (AtSlot(attachment.Endpoint.Slot) is not { } a) return;
        for (int i = 0; i < a.FdCount; i++)
        {
            if (a.Fds[i] != fd) continue;
            try { _epoll.Remove(fd); } catch (SystemCallException) { }
            a.Fds[i] = a.Fds[--a.FdCount];
            return;
        }
    }

    /// <summary>Unregisters and registers every attachment again (after the thread was restarted).</summary>
    public void RegisterAll()
    {
        foreach (var a in Slots)
        {
            if (a is null) continue;
            Unregister(a);
            Register(a);
        }
    }

    public void DetachAll()
    {
        foreach (var a in Slots) a?.Attachment.SetDatapath(null);
    }

    public void Dispose()
    {
        _epoll.Dispose();
        _wake.Dispose();
    }

    internal sealed class Attached(IEndpointAttachment attachment, uint id, int slot)
    {
        public IEndpointAttachment Attachment { get; } = attachment;
        public uint Id { get; } = id;
        public int Slot { get; } = slot;
        public int[] Fds { get; } = new int[LowerDatapath.MaxPollFds];
        public int FdCount { get; set; }
        /// <summary>Its batch read threw: not polled until a resync (LowerDatapath.AttachmentRetry).</summary>
        public bool Suspended { get; set; }
    }
}
