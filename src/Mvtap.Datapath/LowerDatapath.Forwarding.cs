// The datapath thread's loop and the frames' way through it: read a batch from each ready
// descriptor, run every frame through the forwarding core (endpoint → Forwarder.Transmit, lower →
// Forwarder.Receive), run the broadcast work, flush each destination once. While multicast
// datagrams are held in reassembly the loop wakes to expire them, frames or not.
//
// Containment: the handling of each frame is a try region (free until something throws). A frame
// whose handling throws is dropped and counted as internal_error on its source (the endpoint, or
// the port for frames from the lower), recorded for the supervisor to log off this thread, and
// the batch goes on. An attachment that fails as a whole (its batch read or its flush) is counted
// the same way, and one whose reads fail stops being polled until the supervisor gives it another
// chance, so it cannot spin the thread. Only what escapes all of that ends the thread, whose
// supervisor restarts it (LowerDatapath.Supervision.cs).
//
// Capture taps (LowerDatapath.Capture.cs) sit where a frame enters or leaves the thread: one null
// check per frame while nothing is captured.
using Mvtap.Core.Forwarding;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Datapath.Capture;
using Mvtap.Linux;
using Mvtap.Linux.Interop;

namespace Mvtap.Datapath;

public sealed partial class LowerDatapath
{
    /// <summary>How long an attachment whose batch read threw is left unpolled.</summary>
    internal static readonly TimeSpan AttachmentRetry = TimeSpan.FromSeconds(1);
    /// <summary>The longest sleep while datagrams are held in reassembly (their clock need not be epoll's).</summary>
    internal static readonly TimeSpan ReassemblyCheck = TimeSpan.FromSeconds(1);

    private void Loop()
    {
        bool pending = false;
        while (!_stop)
        {
            // Work left over (a full batch, a ring with frames behind it): look, don't sleep.
            int idle = SoonerOf(ReassemblyWait(), OverrunWait());
            int n = _poll.Wait(_events, pending ? 0 : idle);
            Stats.wakeups++;
            long framesBefore = Stats.framesFromLower + Stats.framesFromEndpoints;
            WakeupHook?.Invoke();
            // One table per wake-up: the control plane publishes whole new tables, so this
            // read needs no lock and sees one consistent state for the whole batch.
            var table = Port.Table;
            var sink = new DatapathSink(this);
            for (int i = 0; i < n && !_stop; i++)
            {
                ulong token = _events[i].Data;
                if (token == DatapathPollSet.WakeToken)
                {
                    _poll.DrainWake();
                    DrainCommands(table);
                    table = Port.Table;
                }
                else if (token == DatapathPollSet.LowerToken)
                {
                    ReadLower(table, ref sink);
                }
                else if (_poll.Find(token) is { Suspended: false } source)
                {
                    ReadEndpoint(source, DatapathPollSet.SourceOf(token), table, ref sink);
                }
            }
            pending = false;
            // frames left in the lower's ring (a full batch, or new since): read on before sleeping
            if (_lowerRx is { Pending: true })
            {
                ReadLower(table, ref sink);
                pending |= _lowerRx is { Pending: true };
            }
            foreach (var a in _poll.Slots)
            {
                if (a is null || a.Suspended || !a.Attachment.ReceivePending) continue;
                ReadEndpoint(a, a.Attachment.PendingSource, table, ref sink);
                pending |= !a.Suspended && a.Attachment.ReceivePending;
            }
            ProcessBroadcasts(table);
            FlushAll();
            CountSocketOverrunsWhenDue(Stats.framesFromLower + Stats.framesFromEndpoints != framesBefore);
            Stats.FramesPerWakeup.Count(Stats.framesFromLower + Stats.framesFromEndpoints - framesBefore);
            Volatile.Write(ref Stats.reassemblyDatagrams, Port.Defragmenter.HeldDatagrams);
            Volatile.Write(ref Stats.reassemblyBytes, Port.Defragmenter.HeldBytes);
            Volatile.Write(ref Stats.allocatedBytes, GC.GetAllocatedBytesForCurrentThread());
            Volatile.Write(ref Stats.completedWakeups, Stats.wakeups);
        }
    }

    /// <summary>Expires the multicast datagrams held in reassembly whose 30 s are up, and says how long
    /// the loop may sleep: for ever when none is held, else until the next is due (at most
    /// <see cref="ReassemblyCheck"/>), so one times out even when no frame follows it.</summary>
    private int ReassemblyWait()
    {
        if (Port.Defragmenter.ExpireDue() is not { } due) return -1;
        return (int)Math.Ceiling(Math.Min(due.TotalMilliseconds, ReassemblyCheck.TotalMilliseconds));
    }

    private void ReadLower(ForwardingTable table, ref DatapathSink sink)
    {
        if (_lowerRx is not { } rx) return;
        int n = rx.Receive(_rx);
        if (n < 0) { Stats.receiveErrors++; return; }
        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<byte> frame = default;
            try
            {
                var what = rx.GetFrame(i, Stats, out frame, out var vnet);
                if (what == ReceivedFrame.Ignore) continue;
                if (what == ReceivedFrame.Malformed) { Port.Counters.AddDrop(DropReason.Malformed); continue; }
                if (what == ReceivedFrame.Overflow) { Port.Counters.AddDrop(DropReason.QueueFull); continue; }
                Stats.framesFromLower++;
                if (_captures is { } capture) capture.AtWire(frame, CaptureDirection.Inbound);
                Forwarder.Receive(table, new VnetFrame(frame, vnet), ref sink);
            }
            catch (Exception e)
            {
                FrameFailed(e, null, frame);
            }
        }
        // every frame is copied where it goes (endpoint batches, the wire batch, the broadcast queue)
        rx.Release();
    }

    private void ReadEndpoint(DatapathPollSet.Attached source, int pollSource, ForwardingTable table, ref DatapathSink sink)
    {
        var attachment = source.Attachment;
        var ep = attachment.Endpoint;
        int n;
        try { n = attachment.ReceiveBatch(pollSource, _rx); }
        catch (Exception e)
        {
            AttachmentFailed(source, e, suspend: true);
            return;
        }
        if (n < 0) { Stats.receiveErrors++; return; }
        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<byte> frame = default;
            try
            {
                var what = attachment.GetFrame(i, _rx, out frame, out var vnet);
                if (what == ReceivedFrame.Ignore) continue;
                if (what == ReceivedFrame.Malformed) { ep.Counters.AddDrop(DropReason.Malformed); continue; }
                if (what == ReceivedFrame.Overflow) { ep.Counters.AddDrop(DropReason.QueueFull); continue; }
                Stats.framesFromEndpoints++;
                if (_captures is { } capture) capture.AtEndpoint(ep, frame, CaptureDirection.Outbound);
                Forwarder.Transmit(table, ep, new VnetFrame(frame, vnet), ref sink);
            }
            catch (Exception e)
            {
                FrameFailed(e, ep, frame);
            }
        }
        try { attachment.EndReceive(); }
        catch (Exception e) { AttachmentFailed(source, e, suspend: true); }
    }

    private void ProcessBroadcasts(ForwardingTable table)
    {
        var processor = new ContainedBroadcast(this, table);
        Volatile.Write(ref Stats.broadcastQueueDepth, Port.BroadcastQueue.Drain(ref processor));
    }

    /// <summary>The broadcast work, one queued frame at a time, each contained like a received one.</summary>
    private readonly struct ContainedBroadcast(LowerDatapath datapath, ForwardingTable table) : IBroadcastProcessor
    {
        public void Process(in VnetFrame packet, Endpoint? source)
        {
            var sink = new DatapathSink(datapath);
            try { Forwarder.ProcessQueued(table, packet, source, ref sink); }
            catch (Exception e) { datapath.FrameFailed(e, null, packet.Frame); }
        }
    }

    /// <summary>Drops the frame whose handling threw: counted on its source, recorded for the log.</summary>
    private void FrameFailed(Exception e, Endpoint? source, ReadOnlySpan<byte> frame)
    {
        Stats.internalErrors++;
        if (source is null) Port.Counters.AddDrop(DropReason.InternalError);
        else source.Counters.AddDrop(DropReason.InternalError);
        _faults.Record(e, source, frame);
    }

    private void AttachmentFailed(DatapathPollSet.Attached a, Exception e, bool suspend)
    {
        FrameFailed(e, a.Attachment.Endpoint, default);
        if (!suspend || a.Suspended) return;
        // not polled (nor read for pending work) until the supervisor asks for a resync
        _poll.Unregister(a);
        a.Suspended = true;
        _suspended.Enqueue((a.Attachment, DateTime.UtcNow + AttachmentRetry));
    }

    internal void QueueToWire(in VnetFrame packet)
    {
        if (_lowerSocket is not { } socket)
        {
            // the lower is gone or out of reach (the core already drops when it knows)
            Port.Counters.AddDrop(DropReason.NoCarrier);
            return;
        }
        if (_wireTx.Count == _wireTx.Capacity) Flush(socket, _wireTx, null);
        if (!PacketSocketIo.Append(_wireTx, packet)) { Stats.wireErrors++; Port.Counters.AddDrop(DropReason.AttachmentError); return; }
        if (_captures is { } capture) capture.AtWire(packet.Frame, CaptureDirection.Outbound);
    }

    internal void QueueToEndpoint(EndpointSnapshot endpoint, in VnetFrame packet)
    {
        var a = _poll.AtSlot(endpoint.Slot);
        if (a is null || a.Attachment.Endpoint != endpoint.Endpoint)
        {
            // in the table but its attachment is not (yet, or any more) ours
            endpoint.Counters.CountRxDrop(DropReason.EndpointGone);
            return;
        }
        if (_captures is { } capture) capture.AtEndpoint(endpoint.Endpoint, packet.Frame, CaptureDirection.Inbound);
        a.Attachment.Deliver(packet);
    }

    private void FlushAll()
    {
        try
        {
            if (_lowerSocket is { } socket) Flush(socket, _wireTx, null);
        }
        catch (Exception e)
        {
            for (int i = 0; i < _wireTx.Count; i++) FrameFailed(e, null, default);
            _wireTx.Clear();
        }
        foreach (var a in _poll.Slots)
        {
            if (a is null) continue;
            try { a.Attachment.Flush(); }
            catch (Exception e) { AttachmentFailed(a, e, suspend: false); }
        }
    }

    /// <summary>For packet-socket attachments: sends <paramref name="batch"/> to <paramref name="socket"/>
    /// and clears it, counting refusals against <paramref name="endpoint"/>.</summary>
    internal void SendBatch(PacketSocket socket, SocketFrameBatch batch, Endpoint endpoint) => Flush(socket, batch, endpoint);

    /// <summary>Sends the batch; frames the socket refuses are counted against <paramref name="endpoint"/>
    /// (QueueFull when its buffer is full, AttachmentError when the kernel rejects one) or the port.
    /// A frame the device took and then dropped is the device's drop, not ours (see ENOBUFS below).</summary>
    private void Flush(PacketSocket socket, SocketFrameBatch batch, Endpoint? endpoint)
    {
        int start = 0;
        while (start < batch.Count)
        {
            int n = BatchIo.Send(socket, batch, start, out int errno);
            if (n > 0)
            {
                CountSent(endpoint, n);
                start += n;
                continue;
            }
            if (errno == Sockets.EINTR) continue;
            if (errno == BatchIo.ENOBUFS)
            {
                // ENOBUFS is the device's NET_XMIT_DROP: it took the first frame, dropped it and counted
                // that drop itself (a veth whose peer has just gone down: tx_dropped; a full qdisc: its
                // drops), exactly as when it drops and reports success (a veth without carrier, whose
                // queue is then noop: NET_XMIT_CN). That frame left mvtap: counting it as ours too would
                // count one drop twice, and differently on either side of the device's link watch.
                CountSent(endpoint, 1);
                start++;
            }
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

    private void CountSent(Endpoint? endpoint, int n)
    {
        if (endpoint is null) Stats.wireSent += n; else Stats.endpointSent += n;
    }

    private void CountRefused(Endpoint? endpoint, DropReason reason)
    {
        if (endpoint is not null) { endpoint.Counters.CountRxDrop(reason); return; }
        if (reason == DropReason.QueueFull) Stats.wireRefused++; else Stats.wireErrors++;
        Port.Counters.AddDrop(reason);
    }
}
