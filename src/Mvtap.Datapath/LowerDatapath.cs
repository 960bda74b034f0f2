// The datapath thread of one lower device (design.md "Datapath shape"): an epoll loop over the
// lower's socket, every endpoint attachment's descriptors (veth/TAP packet sockets, vhost-user
// kick eventfds, stream sockets) and an eventfd the control plane signals. Each wake-up reads
// one batch from each ready descriptor into preallocated slots, runs every frame through the
// forwarding core, runs the deferred broadcast work, then flushes each destination once.
// The thread shares no lock with the control plane on its hot path: it reads Port.Table once per
// wake-up, and attachments come and go, and the lower's socket is swapped when the lower is
// reopened, through a lock-free command queue it drains when woken.
//
// The class is split by concern: this file holds its state and public face;
// LowerDatapath.Commands.cs the command queue, LowerDatapath.Forwarding.cs the loop and the
// frames' way through it (with the containment of a frame whose handling throws), and
// LowerDatapath.Supervision.cs the thread's life (a thread that ends is restarted with back-off,
// heartbeats for a watchdog). DatapathPollSet is what the thread waits on.
using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Mvtap.Core.Model;
using Mvtap.Linux;
using Mvtap.Linux.Interop;

namespace Mvtap.Datapath;

public sealed partial class LowerDatapath : IDisposable
{
    /// <summary>Frames read per socket per wake-up, and per transmit batch to the wire.</summary>
    public const int BatchSize = 64;
    /// <summary>Frames per endpoint transmit batch; a fuller batch is flushed early, not dropped.</summary>
    public const int EndpointBatchSize = 32;
    /// <summary>Descriptors one attachment may ask to be polled (vhost-user: one kick per queue pair).</summary>
    public const int MaxPollFds = 16;

    private readonly DatapathPollSet _poll = new();
    private readonly ConcurrentQueue<Command> _commands = new();
    private readonly SocketFrameBatch _rx = new(BatchSize, PacketLower.SlotSize);
    private readonly SocketFrameBatch _wireTx = new(BatchSize, PacketLower.SlotSize);
    private readonly EpollEvent[] _events = new EpollEvent[BatchSize];
    private readonly ILogger _log;
    // The lower's current socket and its ring reader; null while the lower is gone or out of reach.
    // Datapath-thread state once the thread runs (changed by the SwapLower command).
    private PacketSocket? _lowerSocket;
    private RingReceiver? _lowerRx;
    private volatile bool _stop;
    private bool _disposed;

    /// <param name="logger">where the datapath's faults and restarts are logged (default: nowhere;
    /// <see cref="Fault"/> and <see cref="State"/> show them).</param>
    public LowerDatapath(PacketLower lower, ILogger? logger = null)
    {
        Lower = lower;
        _log = logger ?? NullLogger.Instance;
        SetLowerSocket(lower.CurrentSocket);
        lock (_runGate) StartThread();
        DatapathSupervisor.Add(this);
    }

    public PacketLower Lower { get; }
    public Port Port => Lower.Port;
    public DatapathStats Stats { get; } = new();
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
    /// (a vhost-user frontend came, went or replaced a kick eventfd). Does not wait, and takes no
    /// lock: it is called from threads that may hold locks the datapath thread is about to take.</summary>
    public void RequestResync(IEndpointAttachment attachment)
    {
        if (_disposed || _stop) return;
        _commands.Enqueue(new Command(CommandKind.Resync, attachment));
        _poll.Signal();
    }

    /// <summary>Runs <paramref name="frame"/> (no vnet header) through the path a frame read from
    /// <paramref name="attachment"/> takes. For tests: the kernel never hands AF_PACKET a frame
    /// shorter than an Ethernet header, so malformed input cannot be produced on a real veth.</summary>
    internal void InjectFromEndpoint(IEndpointAttachment attachment, byte[] frame) =>
        Post(new Command(CommandKind.Inject, attachment) { Frame = frame });

    /// <summary>Makes <paramref name="socket"/> the lower's (null: the lower has none, it is gone or out
    /// of reach); returns once the datapath thread reads it. The thread closes the socket it used
    /// before, after sending what it had batched for it.</summary>
    internal void SwapLowerSocket(PacketSocket? socket) => Post(new Command(CommandKind.SwapLower, null) { Socket = socket });

    /// <summary>Datapath thread only: takes <paramref name="fd"/> out of the epoll set before its owner
    /// closes it, so the number, once reused by another attachment, is never removed in its name.</summary>
    internal void Unwatch(IEndpointAttachment attachment, int fd) => _poll.Unwatch(attachment, fd);

    private void SetLowerSocket(PacketSocket? socket)
    {
        _poll.WatchLower(socket);
        _lowerSocket = socket;
        _lowerRx = socket is null ? null : new RingReceiver(socket);
    }

    /// <summary>Stops the thread (bounded wait) and frees the batches. Attachments and the lower stay open: their owner closes them.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        DatapathSupervisor.Remove(this);
        Thread thread;
        lock (_runGate)
        {
            _stop = true;
            // a running thread says Stopped itself as it ends, after carrying out what is queued
            if (_state == DatapathState.Restarting) _state = DatapathState.Stopped;
            thread = _thread;
        }
        _poll.Signal();
        bool stopped = !thread.IsAlive || thread.Join(TimeSpan.FromSeconds(10));
        _disposed = true;
        if (!stopped) return; // leave the memory to the finalizers rather than free it under a running thread
        _poll.DetachAll();
        _rx.Dispose();
        _wireTx.Dispose();
        _poll.Dispose();
    }
}
