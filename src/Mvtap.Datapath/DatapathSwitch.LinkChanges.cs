// What the switch's link monitors (LowerLinkMonitor, InnerLinkMonitor) saw change, told to its owner
// as it happens (LinksChanged: `mvtap monitor` looks again). The monitors' threads only flag it: a
// raise is queued to the thread pool, without a lock or a wait, unless one is queued and not yet
// started, so a burst of notifications costs one look.
namespace Mvtap.Datapath;

public sealed partial class DatapathSwitch
{
    /// <summary>A link monitor saw something change a lower or an endpoint: a lower's state, carrier, MAC or
    /// place, an endpoint's interface set down/up, given a MAC or renamed where it lives. Raised on the
    /// thread pool once the change is the port's, never on the monitor's thread; a burst may be told once.</summary>
    public event Action? LinksChanged;

    private int _linksChangedQueued;

    // On a monitor's thread.
    private void OnLinksChanged()
    {
        if (Interlocked.Exchange(ref _linksChangedQueued, 1) != 0) return;
        Raise(() =>
        {
            Volatile.Write(ref _linksChangedQueued, 0); // before the handlers look: a change after this queues again
            LinksChanged?.Invoke();
        });
    }
}
