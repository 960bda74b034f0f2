// A vhost-user net device: its negotiated state, its rings (vring 2k = receive queue of pair
// k, 2k+1 = transmit queue) and the guest memory they live in. The control half is in
// .Control.cs, the datapath halves in .Transmit.cs (guest to host) and .Receive.cs (host to
// guest). Guest errors mark the device broken and are counted; nothing throws to the datapath.
// Guest memory is mapped only as GuestMemory allows (GuestMemoryPolicy, in Core).
using Mvtap.Core.Model;
using Mvtap.Linux.Interop;
using Mvtap.VhostUser.Memory;
using Mvtap.VhostUser.Virtqueue;

namespace Mvtap.VhostUser.Net;

public sealed partial class VhostUserNetBackend : IDisposable
{
    private readonly SplitVirtqueue[] _vrings;
    private readonly DeviceHealth _health;
    private readonly Action<string> _log;
    private GuestMemoryTable? _memory;
    private ulong _features;
    private ulong _protocolFeatures;
    private byte _status;
    private int _serving;

    /// <param name="maxQueuePairs">What GET_QUEUE_NUM answers; at least 2 (cloud-hypervisor's
    /// default), at most 128 (vring indices are 8 bits in kick/call payloads).</param>
    /// <param name="log">Receives one line per notable event (errors, resyncs, sessions).</param>
    public VhostUserNetBackend(int maxQueuePairs = 2, Action<string>? log = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxQueuePairs, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxQueuePairs, 128);
        MaxQueuePairs = maxQueuePairs;
        _log = log ?? (_ => { });
        _health = new DeviceHealth(OnBroken);
        _vrings = new SplitVirtqueue[2 * maxQueuePairs];
        for (int i = 0; i < _vrings.Length; i++) _vrings[i] = new SplitVirtqueue(i, _health);
    }

    public int MaxQueuePairs { get; }
    public VhostUserNetCounters Counters { get; } = new();
    /// <summary>Virtio features the frontend acked (SET_FEATURES).</summary>
    public ulong AckedFeatures => Volatile.Read(ref _features);
    public ulong AckedProtocolFeatures => Volatile.Read(ref _protocolFeatures);
    public bool IsBroken => _health.IsBroken;
    public string? BrokenReason => _health.BrokenReason;
    public bool IsConnected => Volatile.Read(ref _serving) != 0;
    /// <summary>Which guest memory SET_MEM_TABLE may map (GuestMemoryPolicy; Sealed by default:
    /// only files sealed against shrinking, which no frontend can truncate under the daemon).
    /// Takes effect at the next memory table; see <see cref="SetGuestMemory"/> for the current one.</summary>
    public GuestMemoryPolicy GuestMemory
    {
        get => (GuestMemoryPolicy)Volatile.Read(ref _guestMemory);
        init => _guestMemory = (int)value;
    }

    private int _guestMemory = (int)GuestMemoryPolicy.Sealed;

    /// <summary>Changes <see cref="GuestMemory"/>. Returns true when the memory already mapped is
    /// not allowed under the new policy (unsealed memory while the policy is now Sealed): the
    /// caller should end the session. A table being mapped meanwhile is checked again against
    /// the new policy before it is installed.</summary>
    public bool SetGuestMemory(GuestMemoryPolicy policy)
    {
        using (LockAll())
        {
            Volatile.Write(ref _guestMemory, (int)policy);
            return policy == GuestMemoryPolicy.Sealed && _memory is { UnsealedRegions: > 0 };
        }
    }

    /// <summary>Whether every region of the current memory table is sealed against shrinking
    /// (null: no table).</summary>
    public bool? GuestMemorySealed
    {
        get
        {
            using (LockAll()) return _memory is { } m ? m.UnsealedRegions == 0 : null;
        }
    }

    /// <summary>Raised on the control thread whenever a ring starts, stops, is enabled or
    /// disabled or gets a new kick descriptor: the datapath takes the kicks again with
    /// <see cref="AcquireKick"/>.</summary>
    public event Action? QueuesChanged;

    public static int RxVring(int queuePair) => 2 * queuePair;
    public static int TxVring(int queuePair) => 2 * queuePair + 1;

    /// <summary>The eventfd the guest kicks for vring <paramref name="vring"/>, or -1 when there is
    /// none (ring stopped, or the frontend asked for polling with NOFD). A number only, for
    /// inspection (tests); a poller takes the kick with <see cref="AcquireKick"/>, which holds it.</summary>
    public int GetKickFd(int vring)
    {
        var vq = _vrings[vring];
        using (vq.Gate.EnterScope()) return vq.Started && vq.Kick != null ? vq.Kick.Fd : -1;
    }

    /// <summary>The kick eventfd of <paramref name="vring"/> with a reference added (null when the
    /// ring has none), for a poller that registers its number: until the caller's
    /// DangerousRelease, a SET_VRING_KICK or a disconnect that replaces or closes the kick only
    /// marks the handle closed, so the number cannot be reused by another open while the poller
    /// may still name it in epoll_ctl.</summary>
    public FileDescriptor? AcquireKick(int vring)
    {
        var vq = _vrings[vring];
        using (vq.Gate.EnterScope())
        {
            if (!vq.Started || vq.Kick is not { } kick) return null;
            bool added = false;
            // Under the ring's lock the handle is current, hence not disposed: AddRef succeeds.
            kick.DangerousAddRef(ref added);
            return added ? kick : null;
        }
    }

    /// <summary>Clears a pending kick on <paramref name="vring"/> (read its eventfd).</summary>
    public void AcknowledgeKick(int vring)
    {
        var vq = _vrings[vring];
        using (vq.Gate.EnterScope()) vq.DrainKick();
    }

    /// <summary>True when both rings of the pair are started, enabled and healthy.</summary>
    public bool IsQueuePairReady(int queuePair)
    {
        var rx = _vrings[RxVring(queuePair)];
        var tx = _vrings[TxVring(queuePair)];
        using (rx.Gate.EnterScope())
        using (tx.Gate.EnterScope())
            return rx.IsReady && rx.Enabled && tx.IsReady && tx.Enabled;
    }

    /// <summary>Asks the guest to kick <paramref name="vring"/> when it adds buffers, and returns
    /// true if there is work to do now instead of sleeping: on a TX vring, frames not yet
    /// received; on an RX vring, buffers added since the last delivery attempt.</summary>
    public bool ArmKick(int vring)
    {
        var vq = _vrings[vring];
        try
        {
            using (vq.Gate.EnterScope())
            {
                if (!vq.IsReady) return false;
                bool added = vq.RequestKick();
                return added || (vring % 2 == 1 && vq.AvailableCount() > 0);
            }
        }
        catch (AccessViolationException)
        {
            OnGuestMemoryFault(vq);
            return false;
        }
    }

    /// <summary>A snapshot of one ring, for diagnostics and tests.</summary>
    public VringStatus GetVringStatus(int vring)
    {
        var vq = _vrings[vring];
        using (vq.Gate.EnterScope())
            return new VringStatus(vq.Size, vq.Started, vq.Enabled, vq.IsReady, vq.LastAvail, vq.UsedIndex, vq.BrokenReason);
    }

    private void OnBroken(string reason)
    {
        Interlocked.Increment(ref Counters._guestErrors);
        _log($"vhost-user net: device broken: {reason}");
    }

    /// <summary>Takes every ring's lock, in index order, so that the memory table, the features or
    /// the whole device can change under no running batch.</summary>
    private AllRingsScope LockAll()
    {
        foreach (var vq in _vrings) vq.Gate.Enter();
        return new AllRingsScope(_vrings);
    }

    private readonly struct AllRingsScope(SplitVirtqueue[] vrings) : IDisposable
    {
        public void Dispose()
        {
            for (int i = vrings.Length - 1; i >= 0; i--) vrings[i].Gate.Exit();
        }
    }

    public void Dispose()
    {
        using (LockAll())
        {
            foreach (var vq in _vrings) vq.Reset();
            _memory?.Dispose();
            _memory = null;
        }
    }
}

public readonly record struct VringStatus(int Size, bool Started, bool Enabled, bool Ready, ushort LastAvail, ushort UsedIndex, string? BrokenReason);
