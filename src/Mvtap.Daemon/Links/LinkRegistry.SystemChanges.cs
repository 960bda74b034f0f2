// What the system does to the lowers mvtapd holds and their endpoints, as it happens, for `mvtap
// monitor`: a packet lower gone, back or moved (PacketLower.StatusChanged), its datapath thread
// failed or restarted (LowerDatapath.StatusChanged), what the link monitors saw change a lower or an
// endpoint's interface (carrier, up/down, MAC, a rename where it lives: PacketLowerHost.LinksChanged),
// and what the registry itself did about such changes (an endpoint deleted or moved with its
// interface, restored when its lower appeared, deleted with its lower). Each is told on the thread
// pool (SystemChanged), never on the thread that raised it, which may hold locks the listener's look
// at the endpoints takes; one that comes while a telling is queued and not yet started joins it.
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
        packet.LinksChanged += OnSystemChange;
    }

    private void Unwatch(ILowerHost host)
    {
        if (host is not PacketLowerHost packet) return;
        packet.Datapath.StatusChanged -= OnSystemChange;
        packet.Datapath.Lower.StatusChanged -= OnSystemChange;
        packet.LinksChanged -= OnSystemChange;
    }

    private int _systemChangeQueued;

    private void OnSystemChange()
    {
        if (SystemChanged is null || Interlocked.Exchange(ref _systemChangeQueued, 1) != 0) return;
        ThreadPool.QueueUserWorkItem(_ =>
        {
            Volatile.Write(ref _systemChangeQueued, 0); // before the listeners look: a later change queues again
            SystemChanged?.Invoke();
        });
    }
}
