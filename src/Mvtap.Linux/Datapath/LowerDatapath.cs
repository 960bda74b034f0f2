// The datapath thread of one lower device (design.md "Datapath shape"): an epoll loop over the
// lower's socket, every endpoint attachment's descriptors (veth/TAP packet sockets, vhost-user
// kick eventfds, stream sockets) and an eventfd the control plane signals. Each wake-up reads
// one batch from each ready descriptor into preallocated slots, runs every frame through the
// forwarding core (endpoint → Forwarder.Transmit, lower → Forwarder.Receive), runs the deferred
// broadcast work, then flushes each destination once (sendmmsg, or one ring update).
// The thread shares no lock with the control plane: it reads Port.Table once per wake-up, and
// attachments come and go (or change their descriptors) through a lock-free command queue it
// drains when woken.
using System.Collections.Concurrent;
using Mvtap.Core.Forwarding;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Linux.Interop;

namespace Mvtap.Linux.Datapath;

public sealed class LowerDatapath : IDisposable
{
    /// <summary>Frames read per socket per wake-up, and per transmit batch to the wire.</summary>
    public const int BatchSize = 64;
    /// <summary>Frames per endpoint transmit batch; a fuller batch is flushed early, not dropped.</summary>
    public const int EndpointBatchSize = 32;
    /// <summary>Descriptors one attachment may ask to be polled (vhost-user: one kick per queue pair).</summary>
    public const int MaxPollFds = 16;

    private const ulong WakeToken = 0;
    private const ulong LowerToken = 1;

    private readonly Epoll _epoll = new();
    private readonly FileDescriptor _wake = EventFd.Create();
    private readonly ConcurrentQueue<Command> _commands = new();
    private readonly FrameBatch _rx = new(BatchSize, PacketLower.SlotSize);
    private readonly RingReceiver _lowerRx;
    private readonly FrameBatch _wireTx = new(BatchSize, PacketLower.SlotSize);
    private readonly EpollEvent[] _events = new EpollEvent[BatchSize];
    private readonly int[] _fdScratch = new int[MaxPollFds];
    private readonly Thread _thread;
    // Datapath-thread state: indexed by endpoint slot; only the datapath thread touches it once running.
    private Attached?[] _attached = new Attached?[8];
    private uint _nextId = 1;
    private volatile bool _stop;
    private bool _disposed;

    public LowerDatapath(PacketLower lower)
    {
        Lower = lower;
        _lowerRx = new RingReceiver(lower.Socket);
        _epoll.Add(_wake.Fd, EpollSyscalls.EPOLLIN, WakeToken);
        _epoll.Add(lower.Socket.Handle.Fd, EpollSyscalls.EPOLLIN, LowerToken);
        _thread = new Thread(Run) { IsBackground = true, Name = $"mvtap-dp-{lower.Name}" };
        _thread.Start();
    }

    public PacketLower Lower { get; }
    public Port Port => Lower.Port;
    public DatapathStats Stats { get; } = new();
    /// <summary>Set if the thread died of an unexpected exception (it then forwards nothing).</summary>
    public Exception? Fault { get; private set; }

    /// <summary>Tests only: called on the datapath thread with each frame the core passes to the lower's
    /// own stack (RX_HANDLER_PASS), which for an AF_PACKET lower is otherwise only a count. Null in the product.</summary>
    internal FrameSpy? PassedToLowerStack { get; set; }

    internal delegate void FrameSpy(ReadOnlySpan<byte> frame);

    // ---- control plane side --------------------------------------------------------------

    /// <summary>Starts forwarding frames between <paramref name="attachment"/> and the port (replacing
    /// any other attachment of its endpoint). Returns once the datapath thread polls its descriptors.</summary>
    public void Attach(IEndpointAttachment attachment) => Post(new Command(CommandKind.Attach, attachment));

    /// <summary>Stops using <paramref name="attachment"/>; returns once the datapath thread let go of it
    /// (frames still batched for it are dropped), so the caller may close its descriptors.</summary>
    public void Detach(IEndpointAttachment attachment) => Post(new Command(CommandKind.Detach, attachment));

    /// <summary>Asks the datapath thread to re-read <paramref name="attachment"/>'s poll descriptors
    /// (a vhost-user frontend came, went or replaced a kick eventfd). Does not wait: it is called
    /// from threads that may hold locks the datapath thread is about to take.</summary>
    public void RequestResync(IEndpointAttachment attachment)
    {
        if (_disposed || _stop) return;
        _commands.Enqueue(new Command(CommandKind.Resync, attachment));
        try { EventFd.Signal(_wake.Fd); } catch (ObjectDisposedException) { /* stopping */ }
    }

    /// <summary>Runs <paramref name="frame"/> (no vnet header) through the path a frame read from
    /// <paramref name="attachment"/> takes. For tests: the kernel never hands AF_PACKET a frame
    /// shorter than an Ethernet header, so malformed input cannot be produced on a real veth.</summary>
    internal void InjectFromEndpoint(IEndpointAttachment attachment, byte[] frame) =>
        Post(new Command(CommandKind.Inject, attachment) { Frame = frame });

    private void Post(Command command)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_thread.IsAlive)
        {
            // nothing runs the queue any more (stopped, or faulted): act here
            Execute(command, Port.Table);
            return;
        }
        _commands.Enqueue(command);
        EventFd.Signal(_wake.Fd);
        if (!command.Done!.Wait(TimeSpan.FromSeconds(10)))
            throw new TimeoutException($"the datapath thread of {Lower.Name} did not take a command within 10 s");
        if (command.Error is { } e) throw new InvalidOperationException($"datapath command {command.Kind} failed", e);
    }

    // ---- datapath thread -------------------------------------------------------------------

    private void Run()
    {
        bool pending = false;
        try
        {
            while (!_stop)
            {
                // Work left over (a full batch, a ring with frames behind it): look, don't sleep.
                int n = _epoll.Wait(_events, pending ? 0 : -1);
                Stats.wakeups++;
                // One table per wake-up: the control plane publishes whole new tables, so this
                // read needs no lock and sees one consistent state for the whole batch.
                var table = Port.Table;
                var sink = new DatapathSink(this);
                for (int i = 0; i < n && !_stop; i++)
                {
                    ulong token = _events[i].Data;
                    if (token == WakeToken)
                    {
                        EventFd.Drain(_wake.Fd);
                        DrainCommands(table);
                        table = Port.Table;
                    }
                    else if (token == LowerToken)
                    {
                        ReadLower(table, ref sink);
                    }
                    else if (Find(token) is { } source)
                    {
                        ReadEndpoint(source, (int)((token >> 24) & 0xFF), table, ref sink);
                    }
                }
                pending = false;
                // frames left in the lower's ring (a full batch, or new since): read on before sleeping
                if (_lowerRx.Pending)
                {
                    ReadLower(table, ref sink);
                    pending |= _lowerRx.Pending;
                }
                foreach (var a in _attached)
                {
                    if (a is null || !a.Attachment.ReceivePending) continue;
                    ReadEndpoint(a, a.Attachment.PendingSource, table, ref sink);
                    pending |= a.Attachment.ReceivePending;
                }
                Forwarder.ProcessBroadcasts(table, ref sink);
                FlushAll();
                Volatile.Write(ref Stats.allocatedBytes, GC.GetAllocatedBytesForCurrentThread());
            }
        }
        catch (Exception e)
        {
            Fault = e;
        }
        finally
        {
            // Commands posted after the thread ended are run by Post itself; wake any left behind.
            DrainCommands(Port.Table);
        }
    }

    // token: attachment id (32 bits) | poll source (8 bits) | endpoint slot (24 bits)
    private static ulong Token(Attached a, int source) => ((ulong)a.Id << 32) | ((ulong)(uint)source << 24) | (uint)a.Slot;

    private Attached? Find(ulong token)
    {
        int slot = (int)(token & 0xFF_FFFF);
        uint id = (uint)(token >> 32);
        var a = (uint)slot < (uint)_attached.Length ? _attached[slot] : null;
        // A stale event for an endpoint detached earlier in this same wake-up: ignore it.
        return a is not null && a.Id == id ? a : null;
    }

    private void ReadLower(ForwardingTable table, ref DatapathSink sink)
    {
        int n = _lowerRx.Receive(_rx);
        if (n < 0) { Stats.receiveErrors++; return; }
        for (int i = 0; i < n; i++)
        {
            var what = _lowerRx.GetFrame(i, Stats, out var frame, out var vnet);
            if (what == ReceivedFrame.Ignore) continue;
            if (what == ReceivedFrame.Malformed) { Port.Counters.AddDrop(DropReason.Malformed); continue; }
            if (what == ReceivedFrame.Overflow) { Port.Counters.AddDrop(DropReason.QueueFull); continue; }
            Stats.framesFromLower++;
            Forwarder.Receive(table, new Packet(frame, vnet), ref sink);
        }
        // every frame is copied where it goes (endpoint batches, the wire batch, the broadcast queue)
        _lowerRx.Release();
    }

    private void ReadEndpoint(Attached source, int pollSource, ForwardingTable table, ref DatapathSink sink)
    {
        var attachment = source.Attachment;
        var ep = attachment.Endpoint;
        int n = attachment.ReceiveBatch(pollSource, _rx);
        if (n < 0) { Stats.receiveErrors++; return; }
        for (int i = 0; i < n; i++)
        {
            var what = attachment.GetFrame(i, _rx, out var frame, out var vnet);
            if (what == ReceivedFrame.Ignore) continue;
            if (what == ReceivedFrame.Malformed) { ep.Counters.AddDrop(DropReason.Malformed); continue; }
            if (what == ReceivedFrame.Overflow) { ep.Counters.AddDrop(DropReason.QueueFull); continue; }
            Stats.framesFromEndpoints++;
            Forwarder.Transmit(table, ep, new Packet(frame, vnet), ref sink);
        }
        attachment.EndReceive();
    }

    internal void QueueToWire(in Packet packet)
    {
        if (_wireTx.Count == _wireTx.Capacity) Flush(Lower.Socket, _wireTx, null);
        if (!PacketSocketIo.Append(_wireTx, packet)) { Stats.wireErrors++; Port.Counters.AddDrop(DropReason.AttachmentError); }
    }

    internal void QueueToEndpoint(EndpointSnapshot endpoint, in Packet packet)
    {
        int slot = endpoint.Slot;
        var a = (uint)slot < (uint)_attached.Length ? _attached[slot] : null;
        if (a is null || a.Attachment.Endpoint != endpoint.Endpoint)
        {
            // in the table but its attachment is not (yet, or any more) ours
            endpoint.Counters.CountRxDrop(DropReason.EndpointGone);
            return;
        }
        a.Attachment.Deliver(packet);
    }

    private void FlushAll()
    {
        Flush(Lower.Socket, _wireTx, null);
        foreach (var a in _attached) a?.Attachment.Flush();
    }

    /// <summary>For packet-socket attachments: sends <paramref name="batch"/> to <paramref name="socket"/>
    /// and clears it, counting refusals against <paramref name="endpoint"/>.</summary>
    internal void SendBatch(PacketSocket socket, FrameBatch batch, Endpoint endpoint) => Flush(socket, batch, endpoint);

    /// <summary>Sends the batch; frames the socket refuses are counted against <paramref name="endpoint"/>
    /// (QueueFull when its buffer is full, AttachmentError when the kernel rejects one) or the port.</summary>
    private void Flush(PacketSocket socket, FrameBatch batch, Endpoint? endpoint)
    {
        int start = 0;
        while (start < batch.Count)
        {
            int n = BatchIo.Send(socket, batch, start, out int errno);
            if (n > 0)
            {
                if (endpoint is null) Stats.wireSent += n; else Stats.endpointSent += n;
                start += n;
                continue;
            }
            if (errno == Sockets.EINTR) continue;
            if (errno is Sockets.EAGAIN or BatchIo.ENOBUFS)
            {
                // Full: this wake-up is over for these frames (the kernel's full-queue drop).
                for (; start < batch.Count; start++) CountRefused(endpoint, DropReason.QueueFull);
                break;
            }
            // The first remaining frame was rejected on its own merits: drop it, send the rest.
            CountRefused(endpoint, DropReason.AttachmentError);
            start++;
        }
        batch.Clear();
    }

    private void CountRefused(Endpoint? endpoint, DropReason reason)
    {
        if (endpoint is not null) { endpoint.Counters.CountRxDrop(reason); return; }
        if (reason == DropReason.QueueFull) Stats.wireRefused++; else Stats.wireErrors++;
        Port.Counters.AddDrop(reason);
    }

    private void DrainCommands(ForwardingTable table)
    {
        while (_commands.TryDequeue(out var c)) Execute(c, table);
    }

    private void Execute(Command c, ForwardingTable table)
    {
        Stats.commands++;
        try
        {
            switch (c.Kind)
            {
                case CommandKind.Attach:
                {
                    int slot = c.Attachment.Endpoint.Slot;
                    if (slot >= _attached.Length) Array.Resize(ref _attached, Math.Max(slot + 1, _attached.Length * 2));
                    if (_attached[slot] is { } old) Remove(old);
                    var a = new Attached(c.Attachment, _nextId++, slot);
                    _attached[slot] = a;
                    c.Attachment.SetDatapath(this);
                    if (_thread.IsAlive) Register(a);
                    break;
                }
                case CommandKind.Detach:
                {
                    if (FindAttached(c.Attachment) is { } a) Remove(a);
                    break;
                }
                case CommandKind.Resync:
                {
                    // by endpoint: a part of a composite attachment asks for the whole
                    int slot = c.Attachment.Endpoint.Slot;
                    if ((uint)slot < (uint)_attached.Length && _attached[slot] is { } a && a.Attachment.Endpoint == c.Attachment.Endpoint && !_stop)
                    {
                        Unregister(a);
                        Register(a);
                    }
                    break;
                }
                case CommandKind.Inject:
                {
                    var sink = new DatapathSink(this);
                    var frame = c.Frame!;
                    Stats.framesFromEndpoints++;
                    Forwarder.Transmit(table, c.Attachment.Endpoint, new Packet(frame), ref sink);
                    Forwarder.ProcessBroadcasts(table, ref sink);
                    FlushAll();
                    break;
                }
            }
        }
        catch (Exception e)
        {
            c.Error = e;
        }
        finally
        {
            c.Done?.Set();
        }
    }

    /// <summary>Datapath thread only: takes <paramref name="fd"/> out of the epoll set before its owner
    /// closes it, so the number, once reused by another attachment, is never removed in its name.</summary>
    internal void Unwatch(IEndpointAttachment attachment, int fd)
    {
        int slot = attachment.Endpoint.Slot;
        if ((uint)slot >= (uint)_attached.Length || _attached[slot] is not { } a) return;
        for (int i = 0; i < a.FdCount; i++)
        {
            if (a.Fds[i] != fd) continue;
            try { _epoll.Remove(fd); } catch (SystemCallException) { }
            a.Fds[i] = a.Fds[--a.FdCount];
            return;
        }
    }

    private Attached? FindAttached(IEndpointAttachment attachment)
    {
        int slot = attachment.Endpoint.Slot;
        return (uint)slot < (uint)_attached.Length && _attached[slot] is { } a && a.Attachment == attachment ? a : null;
    }

    private void Register(Attached a)
    {
        int n = a.Attachment.GetPollFds(_fdScratch);
        a.FdCount = 0;
        for (int i = 0; i < n && i < MaxPollFds; i++)
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

    private void Unregister(Attached a)
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

    private void Remove(Attached a)
    {
        Unregister(a);
        _attached[a.Slot] = null;
        a.Attachment.SetDatapath(null);
    }

    /// <summary>Stops the thread (bounded wait) and frees the batches. Attachments and the lower stay open: their owner closes them.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _stop = true;
        EventFd.Signal(_wake.Fd);
        bool stopped = _thread.Join(TimeSpan.FromSeconds(10));
        _disposed = true;
        if (!stopped) return; // leave the memory to the finalizers rather than free it under a running thread
        foreach (var a in _attached) a?.Attachment.SetDatapath(null);
        _rx.Dispose();
        _wireTx.Dispose();
        _epoll.Dispose();
        _wake.Dispose();
    }

    private enum CommandKind { Attach, Detach, Resync, Inject }

    private sealed class Command(CommandKind kind, IEndpointAttachment attachment)
    {
        public CommandKind Kind { get; } = kind;
        public IEndpointAttachment Attachment { get; } = attachment;
        public byte[]? Frame { get; init; }
        // A resync is posted without waiting, so it needs no event
        public ManualResetEventSlim? Done { get; } = kind == CommandKind.Resync ? null : new();
        public Exception? Error { get; set; }
    }

    private sealed class Attached(IEndpointAttachment attachment, uint id, int slot)
    {
        public IEndpointAttachment Attachment { get; } = attachment;
        public uint Id { get; } = id;
        public int Slot { get; } = slot;
        public int[] Fds { get; } = new int[MaxPollFds];
        public int FdCount { get; set; }
    }
}
