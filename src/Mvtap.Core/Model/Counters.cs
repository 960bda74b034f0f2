// Per-endpoint and per-port statistics. Each port's datapath thread is the only writer, so
// plain increments suffice; readers on other threads may see a value a few frames old.
namespace Mvtap.Core.Model;

public class DropCounters
{
    private readonly long[] _drops = new long[DropReasons.Count];

    public long this[DropReason reason] => Volatile.Read(ref _drops[(int)reason]);

    public long TotalDrops
    {
        get { long t = 0; for (int i = 0; i < _drops.Length; i++) t += Volatile.Read(ref _drops[i]); return t; }
    }

    internal void CountDrop(DropReason reason) => _drops[(int)reason]++;

    /// <summary>For adapters that drop after the core delivered (a full ring, an I/O error).</summary>
    public void AddDrop(DropReason reason) => _drops[(int)reason]++;

    /// <summary>For drops learnt in bulk (the kernel's count of frames a socket lost).</summary>
    public void AddDrops(DropReason reason, long count) => _drops[(int)reason] += count;

    public IEnumerable<KeyValuePair<string, long>> NonZeroDrops()
    {
        for (int i = 0; i < _drops.Length; i++)
            if (_drops[i] != 0) yield return new(((DropReason)i).Name(), _drops[i]);
    }
}

/// <summary>Frames and bytes in each direction: what endpoints and lowers both count.</summary>
public abstract class TrafficCounters : DropCounters
{
    public long RxPackets, RxBytes, RxMulticast;
    public long TxPackets, TxBytes;

    internal void CountRx(int length, bool multicast)
    {
        RxPackets++;
        RxBytes += length;
        if (multicast) RxMulticast++;
    }

    internal void CountTx(int length)
    {
        TxPackets++;
        TxBytes += length;
    }
}

/// <summary>The kernel's per-endpoint rtnl_link_stats64 fields that macvlan fills.</summary>
public sealed class EndpointCounters : TrafficCounters
{
    public long RxErrors, RxDropped;
    public long TxDropped;

    internal void CountTxDrop(DropReason reason)
    {
        TxDropped++;
        CountDrop(reason);
    }

    /// <summary>A frame the core delivered that the endpoint's queue could not take (spec 5.9:
    /// counted as rx_errors, reported as rx_dropped too).</summary>
    public void CountRxDrop(DropReason reason)
    {
        RxErrors++;
        RxDropped++;
        AddDrop(reason);
    }
}

/// <summary>Per lower device: what crossed the lower (frames received from the wire, frames
/// sent to it) and the frames that reached no endpoint, by reason.</summary>
public sealed class PortCounters : TrafficCounters
{
    /// <summary>What the kernel reports as the lower's rx_dropped (broadcast queue overflow).</summary>
    public long LowerRxDropped => this[DropReason.BroadcastQueueFull] + this[DropReason.Mtu];
}
