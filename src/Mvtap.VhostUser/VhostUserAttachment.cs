// A macvtap endpoint served over vhost-user, as the lower's datapath thread sees it: it polls
// the guest's TX kick eventfd of every queue pair, moves a batch per kick out of the ring into
// preallocated slots, and collects frames for the guest into a batch it writes into the RX ring
// of the first ready queue pair at the end of each wake-up. The frontend comes and goes on the
// endpoint's control thread; QueuesChanged asks the datapath to re-read the kick descriptors.
// The kicks the datapath polls are held by reference (VhostUserNetBackend.AcquireKick) until it
// has taken them out of its epoll set, so the control thread closing one never frees a number
// the datapath still names: see GetPollFds.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Linux.Datapath;
using Mvtap.Linux.Interop;
using Mvtap.VhostUser.Net;
using LinuxFrameBatch = Mvtap.Linux.FrameBatch;
using NetFrameBatch = Mvtap.VhostUser.Net.FrameBatch;

namespace Mvtap.VhostUser;

public sealed class VhostUserAttachment : IEndpointAttachment
{
    private readonly NetFrameBatch _fromGuest = new(LowerDatapath.EndpointBatchSize);
    private readonly NetFrameBatch _toGuest = new(LowerDatapath.EndpointBatchSize);
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

    public int ReceiveBatch(int source, LinuxFrameBatch scratch)
    {
        int qp = source;
        if ((uint)qp >= (uint)Backend.MaxQueuePairs) return 0;
        int vring = VhostUserNetBackend.TxVring(qp);
        Backend.AcknowledgeKick(vring);
        int n = Backend.ReceiveFromGuest(qp, _fromGuest);
        // Sleep on the kick only once the ring is empty and the guest has been asked to kick.
        bool more = n == _fromGuest.Capacity || Backend.ArmKick(vring);
        if (more) _pendingPairs |= 1UL << qp; else _pendingPairs &= ~(1UL << qp);
        return n;
    }

    public ReceivedFrame GetFrame(int i, LinuxFrameBatch scratch, out ReadOnlySpan<byte> frame, out VirtioNetHeader vnet)
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

    public void Deliver(in Packet packet)
    {
        if (_toGuestCount == _toGuest.Capacity) Flush();
        if (packet.Length > _toGuest.FrameCapacity)
        {
            Endpoint.Counters.CountRxDrop(DropReason.Mtu);
            return;
        }
        int i = _toGuestCount;
        var header = _toGuest.Header(i);
        var vnet = packet.Vnet;
        vnet.NumBuffers = 0;
        vnet.Write(header);
        var buffer = _toGuest.FrameBuffer(i);
        packet.Frame.CopyTo(buffer);
        _toGuest.SetLength(i, packet.Length);
        // A partial checksum the guest cannot complete itself (no GUEST_CSUM): finish it here,
        // on our own copy, rather than drop the frame.
        if (vnet.NeedsCsum && (Backend.AckedFeatures & VirtioNetFeatures.GuestCsum) == 0 && !vnet.IsGso)
        {
            if (!PartialChecksum.Complete(buffer[..packet.Length], vnet.CsumStart, vnet.CsumOffset))
            {
                Endpoint.Counters.CountRxDrop(DropReason.BadVirtioHeader);
                return;
            }
            header[0] = (byte)(header[0] & ~VirtioNetHeader.FlagNeedsCsum);
        }
        _toGuestCount = i + 1;
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
        // no frontend, or none ready yet: a macvtap nobody reads drops at its full queue
        for (int k = 0; k < count; k++) Endpoint.Counters.CountRxDrop(DropReason.QueueFull);
    }
}
