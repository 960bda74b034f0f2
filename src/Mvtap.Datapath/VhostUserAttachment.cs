// A macvtap endpoint served over vhost-user, as the lower's datapath thread sees it: it polls
// the guest's TX kick eventfd of every queue pair, moves a batch per kick out of the ring into
// preallocated slots, and collects frames for the guest into a batch it writes into the RX ring
// of the first ready queue pair at the end of each wake-up (a GSO frame the guest did not
// negotiate as its segments, one slot each). The frontend comes and goes on the
// endpoint's control thread; QueuesChanged asks the datapath to re-read the kick descriptors.
// The kicks the datapath polls are held by reference (VhostUserNetBackend.AcquireKick) until it
// has taken them out of its epoll set, so the control thread closing one never frees a number
// the datapath still names: see GetPollFds.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Linux;
using Mvtap.Linux.Interop;
using Mvtap.VhostUser.Net;

namespace Mvtap.Datapath;

public sealed class VhostUserAttachment : IEndpointAttachment
{
    private readonly FrameBatch _fromGuest = new(LowerDatapath.EndpointBatchSize);
    private readonly FrameBatch _toGuest = new(LowerDatapath.EndpointBatchSize);
    private int _toGuestCount;
    private LowerDatapath? _datapath;
    // queue pairs with frames left behind in their TX ring (bit k = pair k), and the next to serve
    private ulong _pendingPairs;
    private int _nextPending;
    // Datapath thread: the kick handles whose numbers the datapath registered (index = pair),
    // each with a reference of ours that keeps the descriptor open after the control thread
    // replaced or closed it.
    private readonly FileDescriptor?[] _watchedKicks;

    public VhostUserAttachment(Endpoint endpoint, VhostUserNetBackend backend)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(backend.MaxQueuePairs, Math.Min(64, LowerDatapath.MaxPollFds));
        Endpoint = endpoint;
        Backend = backend;
        _watchedKicks = new FileDescriptor?[backend.MaxQueuePairs];
        backend.QueuesChanged += OnQueuesChanged;
    }

    public Endpoint Endpoint { get; }
    public VhostUserNetBackend Backend { get; }

    // Control thread of the vhost-user endpoint: never wait for the datapath here (it may be
    // blocked on a ring lock this thread holds).
    private void OnQueuesChanged() => Volatile.Read(ref _datapath)?.RequestResync(this);

    public void SetDatapath(LowerDatapath? datapath)
    {
        Volatile.Write(ref _datapath, datapath);
        _pendingPairs = 0;
        _toGuestCount = 0;
        // Called once the datapath no longer polls our descriptors (or before it starts to).
        ReleaseWatchedKicks();
    }

    /// <summary>Source k is the TX kick of queue pair k (-1 while that ring is stopped). The
    /// datapath calls this only after taking the previous numbers out of its set (resync,
    /// attach), so the references on those are dropped here, after the new ones are taken.</summary>
    public int GetPollFds(Span<int> fds)
    {
        int pairs = Backend.MaxQueuePairs;
        for (int qp = 0; qp < pairs; qp++)
        {
            var kick = Backend.AcquireKick(VhostUserNetBackend.TxVring(qp));
            // Dropping the old reference may close it now (the control thread replaced it):
            // here, on the datapath thread, after epoll_ctl(DEL) named it for the last time.
            _watchedKicks[qp]?.DangerousRelease();
            _watchedKicks[qp] = kick;
            fds[qp] = kick?.Fd ?? -1;
        }
        // a frontend that came back may have left frames in its rings before we polled its kicks
        for (int qp = 0; qp < pairs; qp++) _pendingPairs |= 1UL << qp;
        return pairs;
    }

    public int ReceiveBatch(int source, SocketFrameBatch scratch)
    {
        int qp = source;
        if ((uint)qp >= (uint)Backend.MaxQueuePairs) return 0;
        int vring = VhostUserNetBackend.TxVring(qp);
        int n = Backend.ReceiveFromGuest(qp, _fromGuest);
        // A full batch: more is waiting, so come back before sleeping and leave the kick alone (a
        // kick still pending only makes the next epoll_wait return at once). Otherwise get ready
        // to sleep: clear the kick, ask for the next one, and look once more, since frames added
        // before the request was visible came without a kick (their kick, if any, was cleared).
        // Reading the eventfd only here saves a system call per busy batch.
        bool more = n == _fromGuest.Capacity;
        if (!more)
        {
            Backend.AcknowledgeKick(vring);
            more = Backend.ArmKick(vring);
        }
        if (more) _pendingPairs |= 1UL << qp; else _pendingPairs &= ~(1UL << qp);
        return n;
    }

    public ReceivedFrame GetFrame(int i, SocketFrameBatch scratch, out ReadOnlySpan<byte> frame, out VirtioNetHeader vnet)
    {
        frame = _fromGuest.Frame(i);
        vnet = VirtioNetHeader.Read(_fromGuest.Header(i));
        return frame.Length < 14 ? ReceivedFrame.Malformed : ReceivedFrame.Frame;
    }

    public bool ReceivePending => _pendingPairs != 0;

    public int PendingSource
    {
        get
        {
            // round robin over the pending pairs, so one busy queue does not starve another
            int pairs = Backend.MaxQueuePairs;
            for (int k = 0; k < pairs; k++)
            {
                int qp = (_nextPending + k) % pairs;
                if ((_pendingPairs & (1UL << qp)) == 0) continue;
                _nextPending = qp + 1;
                return qp;
            }
            return 0;
        }
    }

    private void ReleaseWatchedKicks()
    {
        for (int qp = 0; qp < _watchedKicks.Length; qp++)
        {
            _watchedKicks[qp]?.DangerousRelease();
            _watchedKicks[qp] = null;
        }
    }

    public void Deliver(in VnetFrame packet)
    {
        ulong features = Backend.AckedFeatures;
        bool guestCsum = (features & VirtioNetFeatures.GuestCsum) != 0;
        // A GSO type the guest did not ack: cut it into wire-sized frames here, as the kernel's
        // tap does for a queue without the offload (spec 5.6), each its own RX buffer chain;
        // the checksum stays partial only for a guest that acked GUEST_CSUM.
        if (packet.Vnet.IsGso && !VirtioNetOffloads.GuestAcceptsGso(packet.Vnet.GsoType, features))
        {
            DeliverSegmented(packet, guestCsum);
            return;
        }
        if (packet.Length > _toGuest.FrameCapacity)
        {
            Endpoint.Counters.CountRxDrop(DropReason.Mtu);
            return;
        }
        var buffer = ReserveSlot();
        var vnet = packet.Vnet;
        packet.Frame.CopyTo(buffer);
        // A partial checksum the guest cannot complete itself (no GUEST_CSUM): finish it here,
        // on our own copy, rather than drop the frame.
        if (vnet.NeedsCsum && !guestCsum && !vnet.IsGso)
        {
            if (!PartialChecksum.Complete(buffer[..packet.Length], vnet.CsumStart, vnet.CsumOffset))
            {
                Endpoint.Counters.CountRxDrop(DropReason.BadVirtioHeader);
                return;
            }
            vnet.Flags = (byte)(vnet.Flags & ~VirtioNetHeader.FlagNeedsCsum);
        }
        CommitSlot(packet.Length, vnet);
    }

    private void DeliverSegmented(in VnetFrame packet, bool guestCsum)
    {
        var sink = new SegmentSink(this);
        var verdict = GsoSegmenter.Segment(packet.Frame, packet.Vnet, guestCsum, ref sink, out _, out _);
        if (verdict == GsoVerdict.Segmented) return;
        // refused, or no room for a segment: the backend's offload counter says why as well
        Endpoint.Counters.CountRxDrop(verdict switch
        {
            GsoVerdict.SinkFull => DropReason.Mtu,
            GsoVerdict.Unsupported => DropReason.AttachmentError,
            _ => DropReason.BadVirtioHeader,
        });
        if (verdict != GsoVerdict.SinkFull) Backend.CountOffloadDrop();
    }

    /// <summary>The buffer of the next slot of the batch for the guest, flushing a full batch.</summary>
    private Span<byte> ReserveSlot()
    {
        if (_toGuestCount == _toGuest.Capacity) Flush();
        return _toGuest.FrameBuffer(_toGuestCount);
    }

    private void CommitSlot(int length, VirtioNetHeader vnet)
    {
        int i = _toGuestCount;
        vnet.NumBuffers = 0;
        vnet.Write(_toGuest.Header(i));
        _toGuest.SetLength(i, length);
        _toGuestCount = i + 1;
    }

    // GSO segments go straight into the batch for the guest, one slot (one RX chain) each.
    private readonly struct SegmentSink(VhostUserAttachment owner) : ISegmentSink
    {
        public Span<byte> Reserve(int length) =>
            length > owner._toGuest.FrameCapacity ? default : owner.ReserveSlot();

        public void Commit(int length, in VirtioNetHeader header) => owner.CommitSlot(length, header);
    }

    public void Flush()
    {
        int count = _toGuestCount;
        if (count == 0) return;
        _toGuestCount = 0;
        int pairs = Backend.MaxQueuePairs;
        for (int qp = 0; qp < pairs; qp++)
        {
            if (!Backend.IsQueuePairReady(qp)) continue;
            int delivered = Backend.DeliverToGuest(qp, _toGuest, count);
            for (int k = delivered; k < count; k++) Endpoint.Counters.CountRxDrop(DropReason.QueueFull);
            return;
        }
        // no frontend, or none ready yet: no guest to take them
        for (int k = 0; k < count; k++) Endpoint.Counters.CountRxDrop(DropReason.NoGuest);
    }
}
