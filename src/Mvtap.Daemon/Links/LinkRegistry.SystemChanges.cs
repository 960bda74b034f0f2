// What the system does to the lowers mvtapd holds, as it happens, for `mvtap monitor`: a packet
// lower gone, back or moved (PacketLower.StatusChanged), its datapath thread failed or restarted
// (LowerDatapath.StatusChanged). Each is told
// on the thread pool (SystemChanged), never on the thread that raised it, which may hold locks the
// listener's look at the endpoints takes.
using Mvtap.Daemon.Lowers;

namespace Mvtap.Daemon.Links;

public sealed partial class LinkRegistry
{
    /// <summary>Something outside the control requests changed a lower or its endpoints; raised on the thread pool.</summary>
    public event Action? SystemChanged;

    private void Watch(ILowerHost host)
    {
        if (host is not PacketLowerHost packet) return;
        packet.Datapath.StatusChanged += OnSystemChange;
        packet.Datapath.Lower.StatusChanged += OnSystemChange;
    }

    private void Unwatch(ILowerHost host)
    {
        if (host is not PacketLowerHost packet) return;
        packet.Datapath.StatusChanged -= OnSystemChange;
        packet.Datapath.Lower.StatusChanged -= OnSystemChange;
    }

    private void OnSystemChange()
    {
        if (SystemChanged is { } listeners) ThreadPool.QueueUserWorkItem(_ => listeners());
    }
}
