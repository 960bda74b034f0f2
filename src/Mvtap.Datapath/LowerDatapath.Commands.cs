// The datapath thread's command queue: what the control plane asks of the thread (attach, detach
// or re-poll an endpoint's attachment, swap the lower's socket, answer a heartbeat, publish a
// capture table, run a frame for a test) is queued and the thread woken; it carries each out between batches. A caller that
// must know the outcome waits for it (bounded). While no thread runs the queue — stopped, or
// waiting out a restart back-off — the caller carries the command out itself.
using Mvtap.Core.Forwarding;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Linux;

namespace Mvtap.Datapath;

public sealed partial class LowerDatapath
{
    private enum CommandKind { Attach, Detach, Resync, Inject, SwapLower, Heartbeat, Captures }

    private sealed class Command(CommandKind kind, IEndpointAttachment? attachment)
    {
        public CommandKind Kind { get; } = kind;
        public IEndpointAttachment? Attachment { get; } = attachment;
        public byte[]? Frame { get; init; }
        public PacketSocket? Socket { get; init; }
        public long Sequence { get; init; }
        public Capture.CaptureTable? Captures { get; init; }
        // Resyncs and heartbeats are posted without waiting, so they need no event
        public ManualResetEventSlim? Done { get; } = kind is CommandKind.Resync or CommandKind.Heartbeat ? null : new();
        public Exception? Error { get; set; }
    }

    private void Post(Command command)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        bool queued;
        lock (_runGate)
        {
            queued = _state == DatapathState.Running;
            if (queued)
            {
                _commands.Enqueue(command);
                _poll.Signal();
            }
            else
            {
                // nothing runs the queue now (stopped, or waiting out a back-off): act here
                Execute(command, Port.Table);
            }
        }
        if (queued && !command.Done!.Wait(TimeSpan.FromSeconds(10)))
            throw new TimeoutException($"the datapath thread of {Lower.Name} did not take a command within 10 s");
        if (command.Error is { } e) throw new InvalidOperationException($"datapath command {command.Kind} failed", e);
    }

    private void DrainCommands(ForwardingTable table)
    {
        while (_commands.TryDequeue(out var c)) Execute(c, table);
    }

    // On the datapath thread between batches, or (thread not running) on the caller's under _runGate.
    private void Execute(Command c, ForwardingTable table)
    {
        Stats.commands++;
        try
        {
            switch (c.Kind)
            {
                case CommandKind.Attach:
                {
                    var a = _poll.Add(c.Attachment!);
                    c.Attachment!.SetDatapath(this);
                    // a thread that is not running registers everything when it is started again
                    if (_state == DatapathState.Running && Thread.CurrentThread == _thread) _poll.Register(a);
                    break;
                }
                case CommandKind.Detach:
                {
                    if (_poll.Of(c.Attachment!) is { } a) _poll.Remove(a);
                    break;
                }
                case CommandKind.Resync:
                {
                    // by endpoint: a part of a composite attachment asks for the whole
                    var ep = c.Attachment!.Endpoint;
                    if (_poll.AtSlot(ep.Slot) is { } a && a.Attachment.Endpoint == ep && !_stop)
                    {
                        _poll.Unregister(a);
                        _poll.Register(a);
                        a.Suspended = false;
                    }
                    break;
                }
                case CommandKind.Inject:
                {
                    var sink = new DatapathSink(this);
                    var frame = c.Frame!;
                    var ep = c.Attachment!.Endpoint;
                    Stats.framesFromEndpoints++;
                    _captures?.AtEndpoint(ep, frame, Capture.CaptureDirection.Outbound);
                    try { Forwarder.Transmit(table, ep, new VnetFrame(frame), ref sink); }
                    catch (Exception e) { FrameFailed(e, ep, frame); }
                    ProcessBroadcasts(table);
                    FlushAll();
                    break;
                }
                case CommandKind.SwapLower:
                {
                    // what was batched for the old socket still goes out on it, and what it lost is counted
                    if (_lowerSocket is { } old) Flush(old, _wireTx, null);
                    CountSocketOverruns();
                    _wireTx.Clear();
                    var previous = _lowerSocket;
                    SetLowerSocket(c.Socket);
                    if (previous is not null && previous != c.Socket) previous.Dispose();
                    break;
                }
                case CommandKind.Captures:
                {
                    _captures = c.Captures;
                    break;
                }
                case CommandKind.Heartbeat:
                {
                    if (c.Sequence > Volatile.Read(ref _heartbeatsAnswered)) Volatile.Write(ref _heartbeatsAnswered, c.Sequence);
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
}
