// The datapath thread of one lower device (design.md "Datapath shape"): an epoll loop over the
// lower's socket, its endpoints' sockets and an eventfd the control plane signals. Each wake-up
// reads one batch from each ready socket into a preallocated receive batch, runs every frame
// through the forwarding core (endpoint → Forwarder.Transmit, lower → Forwarder.Receive), runs
// the deferred broadcast work, then flushes each destination's transmit batch with one sendmmsg.
// The thread shares no lock with the control plane: it reads Port.Table once per wake-up, and
// endpoints' sockets come and go through a lock-free command queue it drains when woken.
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

    private const ulong WakeToken = 0;
    private const ulong LowerToken = 1;
    private const int VnetSize = PacketAbi.VirtioNetHdrSize;

    private readonly Epoll _epoll = new();
    private readonly FileDescriptor _wake = EventFd.Create();
    private readonly ConcurrentQueue<Command> _commands = new();
    private readonly FrameBatch _rx = new(BatchSize, PacketLower.SlotSize);
    private readonly FrameBatch _wireTx = new(BatchSize, PacketLower.SlotSize);
    private readonly EpollEvent[] _events = new EpollEvent[BatchSize];
    private readonly Thread _thread;
    // Datapath-thread state: indexed by endpoint slot; only the datapath thread touches it once running.
    private Attached?[] _attached = new Attached?[8];
    private uint _nextId = 1;
    private volatile bool _stop;
    private bool _disposed;

    public LowerDatapath(PacketLower lower)
    {
        Lower = lower;
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

    // ---- control plane side --------------------------------------------------------------

    /// <summary>Starts forwarding frames between <paramref name="attachment"/>'s socket and the port.
    /// Returns once the datapath thread has the socket in its epoll set.</summary>
    public void Attach(MacvlanAttachment attachment) => Post(new Command(CommandKind.Attach, attachment));

    /// <summary>Stops using <paramref name="attachment"/>'s socket; returns once the datapath thread let
    /// go of it (frames still batched for it are dropped), so the caller may close it.</summary>
    public void Detach(MacvlanAttachment attachment) => Post(new Command(CommandKind.Detach, attachment));

    /// <summary>Runs <paramref name="frame"/> (no vnet header) through the path a frame read from
    /// <paramref name="attachment"/>'s socket takes. For tests: the kernel never hands AF_PACKET a
    /// frame shorter than an Ethernet header, so malformed input cannot be produced on a real veth.</summary>
    internal void InjectFromEndpoint(MacvlanAttachment attachment, byte[] frame) =>
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
        if (!command.Done.Wait(TimeSpan.FromSeconds(10)))
            throw new TimeoutException($"the datapath thread of {Lower.Name} did not take a command within 10 s");
        if (command.Error is { } e) throw new InvalidOperationException($"datapath command {command.Kind} failed", e);
    }

    // ---- datapath thread -------------------------------------------------------------------

    private void Run()
    {
        try
        {
            while (!_stop)
            {
                int n = _epoll.Wait(_events, -1);
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
                        ReadEndpoint(source, table, ref sink);
                    }
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

    private Attached? Find(ulong token)
    {
        int slot = (int)(token & 0xFFFF_FFFF);
        uint id = (uint)(token >> 32);
        var a = (uint)slot < (uint)_attached.Length ? _attached[slot] : null;
        // A stale event for an endpoint detached earlier in this same wake-up: ignore it.
        return a is not null && a.Id == id ? a : null;
    }

    private void ReadLower(ForwardingTable table, ref DatapathSink sink)
    {
        int n = BatchIo.Receive(Lower.Socket, _rx, out _);
        if (n < 0) { Stats.receiveErrors++; return; }
        for (int i = 0; i < n; i++)
        {
            var what = Classify(i, out var frame, out var vnet);
            if (what == Received.Ours) continue;
            if (what == Received.Malformed) { Port.Counters.AddDrop(DropReason.Malformed); continue; }
            Stats.framesFromLower++;
            Forwarder.Receive(table, new Packet(frame, vnet), ref sink);
        }
    }

    private void ReadEndpoint(Attached source, ForwardingTable table, ref DatapathSink sink)
    {
        var ep = source.Attachment.Endpoint;
        int n = BatchIo.Receive(source.Attachment.Socket, _rx, out _);
        if (n < 0) { Stats.receiveErrors++; return; }
        for (int i = 0; i < n; i++)
        {
            var what = Classify(i, out var frame, out var vnet);
            if (what == Received.Ours) continue;
            if (what == Received.Malformed) { ep.Counters.AddDrop(DropReason.Malformed); continue; }
            Stats.framesFromEndpoints++;
            Forwarder.Transmit(table, ep, new Packet(frame, vnet), ref sink);
        }
    }

    private enum Received { Frame, Ours, Malformed }

    private Received Classify(int i, out ReadOnlySpan<byte> frame, out VirtioNetHeader vnet)
    {
        frame = default;
        vnet = default;
        // Ignore-outgoing is set on every socket; checking the type as well keeps a socket
        // without it from feeding our own transmissions back in (a forwarding loop).
        if (_rx.PacketType(i) == PacketAbi.PACKET_OUTGOING) return Received.Ours;
        if (_rx.Truncated(i)) { Stats.truncated++; return Received.Malformed; }
        var data = _rx.Frame(i);
        if (data.Length < VnetSize) return Received.Malformed;
        vnet = VirtioNetHeader.Read(data[..VnetSize]);
        if (vnet.IsGso) Stats.gsoFrames++;
        frame = data[VnetSize..];
        return Received.Frame;
    }

    internal void QueueToWire(in Packet packet)
    {
        if (_wireTx.Count == _wireTx.Capacity) Flush(Lower.Socket, _wireTx, null);
        if (!Append(_wireTx, packet)) { Stats.wireErrors++; Port.Counters.AddDrop(DropReason.AttachmentError); }
    }

    internal void QueueToEndpoint(EndpointSnapshot endpoint, in Packet packet)
    {
        int slot = endpoint.Slot;
        var a = (uint)slot < (uint)_attached.Length ? _attached[slot] : null;
        if (a is null || a.Attachment.Endpoint != endpoint.Endpoint)
        {
            // in the table but its socket is not (yet, or any more) ours
            endpoint.Counters.CountRxDrop(DropReason.EndpointGone);
            return;
        }
        if (a.Tx.Count == a.Tx.Capacity) Flush(a.Attachment.Socket, a.Tx, a.Attachment.Endpoint);
        if (!Append(a.Tx, packet)) endpoint.Counters.CountRxDrop(DropReason.AttachmentError);
    }

    private static bool Append(FrameBatch batch, in Packet packet)
    {
        int length = VnetSize + packet.Length;
        if (length > batch.SlotSize) return false;
        var slot = batch.Reserve();
        packet.Vnet.Write(slot[..VnetSize]); // exactly 10 bytes: the socket's header size
        packet.Frame.CopyTo(slot[VnetSize..]);
        batch.Commit(length);
        return true;
    }

    private void FlushAll()
    {
        Flush(Lower.Socket, _wireTx, null);
        foreach (var a in _attached)
            if (a is not null && a.Tx.Count > 0) Flush(a.Attachment.Socket, a.Tx, a.Attachment.Endpoint);
    }

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
                    var a = new Attached(c.Attachment, _nextId++);
                    _attached[slot] = a;
                    if (_thread.IsAlive) _epoll.Add(c.Attachment.Socket.Handle.Fd, EpollSyscalls.EPOLLIN, ((ulong)a.Id << 32) | (uint)slot);
                    break;
                }
                case CommandKind.Detach:
                {
                    int slot = c.Attachment.Endpoint.Slot;
                    if ((uint)slot < (uint)_attached.Length && _attached[slot] is { } a && a.Attachment == c.Attachment) Remove(a);
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
            c.Done.Set();
        }
    }

    private void Remove(Attached a)
    {
        try { _epoll.Remove(a.Attachment.Socket.Handle.Fd); } catch (SystemCallException) { /* not in the set */ }
        _attached[a.Attachment.Endpoint.Slot] = null;
        a.Tx.Dispose();
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
        foreach (var a in _attached) a?.Tx.Dispose();
        _rx.Dispose();
        _wireTx.Dispose();
        _epoll.Dispose();
        _wake.Dispose();
    }

    private enum CommandKind { Attach, Detach, Inject }

    private sealed class Command(CommandKind kind, MacvlanAttachment attachment)
    {
        public CommandKind Kind { get; } = kind;
        public MacvlanAttachment Attachment { get; } = attachment;
        public byte[]? Frame { get; init; }
        public ManualResetEventSlim Done { get; } = new();
        public Exception? Error { get; set; }
    }

    private sealed class Attached(MacvlanAttachment attachment, uint id)
    {
        public MacvlanAttachment Attachment { get; } = attachment;
        public uint Id { get; } = id;
        public FrameBatch Tx { get; } = new(EndpointBatchSize, PacketLower.SlotSize);
    }
}
