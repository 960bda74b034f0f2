// Everything a vhost-user net device did not do as asked, counted by reason (design
// principle 5: nothing lost silently), plus the traffic totals. Updated once per batch.
namespace Mvtap.VhostUser.Net;

public sealed class VhostUserNetCounters
{
    internal long _protocolErrors, _guestErrors, _guestMemoryFaults, _callProblems, _connections, _disconnects;
    internal long _txFrames, _txBytes, _txDropBadHeader, _txDropOversize, _txDropDisabled;
    internal long _rxFrames, _rxBytes, _rxDropNoBuffer, _rxDropTooBig, _rxDropOffload, _rxDropNotReady;

    /// <summary>Malformed or refused control messages (each closes or refuses the session).</summary>
    public long ProtocolErrors => Volatile.Read(ref _protocolErrors);
    /// <summary>Times the device was marked broken because of guest memory or ring contents.</summary>
    public long GuestErrors => Volatile.Read(ref _guestErrors);
    /// <summary>Touches of guest memory that its frontend had taken away (a shrunk memory file).</summary>
    public long GuestMemoryFaults => Volatile.Read(ref _guestMemoryFaults);
    /// <summary>Call descriptors the frontend made blocking (O_NONBLOCK cleared) or that could not
    /// be written; they stall only this device's interrupts (CallNotifier).</summary>
    public long CallProblems => Volatile.Read(ref _callProblems);
    public long Connections => Volatile.Read(ref _connections);
    public long Disconnects => Volatile.Read(ref _disconnects);

    /// <summary>Frames the guest sent (guest TX) that were handed to the caller.</summary>
    public long TxFrames => Volatile.Read(ref _txFrames);
    public long TxBytes => Volatile.Read(ref _txBytes);
    /// <summary>Guest frames whose header claimed an offload the guest did not negotiate, or that
    /// were shorter than a header.</summary>
    public long TxDropBadHeader => Volatile.Read(ref _txDropBadHeader);
    /// <summary>Guest frames larger than the caller's buffers.</summary>
    public long TxDropOversize => Volatile.Read(ref _txDropOversize);
    /// <summary>Guest frames consumed from a started but disabled queue.</summary>
    public long TxDropDisabled => Volatile.Read(ref _txDropDisabled);

    /// <summary>Frames written into the guest (guest RX).</summary>
    public long RxFrames => Volatile.Read(ref _rxFrames);
    public long RxBytes => Volatile.Read(ref _rxBytes);
    /// <summary>Frames dropped because the guest had not posted enough receive buffers.</summary>
    public long RxDropNoBuffer => Volatile.Read(ref _rxDropNoBuffer);
    /// <summary>Frames larger than a whole receive buffer chain (no MRG_RXBUF).</summary>
    public long RxDropTooBig => Volatile.Read(ref _rxDropTooBig);
    /// <summary>Frames carrying a checksum/GSO request the guest did not negotiate.</summary>
    public long RxDropOffload => Volatile.Read(ref _rxDropOffload);
    /// <summary>Frames for a queue that is not started, not enabled, or broken.</summary>
    public long RxDropNotReady => Volatile.Read(ref _rxDropNotReady);
}
