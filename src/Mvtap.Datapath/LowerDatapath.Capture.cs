// Capturing on a lower's datapath thread (`mvtap capture`): the control plane adds and removes
// the taps of a capture session here; each change publishes a new immutable CaptureTable through
// the thread's command queue and returns once the thread uses it, so after RemoveCaptureTaps the
// thread writes nothing more to those taps' ring. The thread's own reference is null while nothing
// is captured. The tap points (LowerDatapath.Forwarding.cs): frames read from an endpoint
// (outbound) and from the wire (inbound), frames queued to an endpoint (inbound) and to the wire
// (outbound).
using Mvtap.Datapath.Capture;

namespace Mvtap.Datapath;

public sealed partial class LowerDatapath
{
    // Control plane only: the taps in force, and the lock that serialises their changes (the
    // datapath thread never takes it).
    private readonly object _captureGate = new();
    private CaptureTap[] _captureTaps = [];
    // The datapath thread's: what it captures (null: nothing).
    private CaptureTable? _captures;

    /// <summary>Starts copying the frames <paramref name="taps"/> match into their rings.</summary>
    public void AddCaptureTaps(IReadOnlyCollection<CaptureTap> taps)
    {
        lock (_captureGate)
        {
            Publish([.. _captureTaps, .. taps]);
        }
    }

    /// <summary>Stops <paramref name="taps"/>; returns once the datapath thread no longer writes to them.
    /// A datapath already disposed writes nothing anyway.</summary>
    public void RemoveCaptureTaps(IReadOnlyCollection<CaptureTap> taps)
    {
        lock (_captureGate)
        {
            var next = _captureTaps.Where(t => !taps.Contains(t)).ToArray();
            try { Publish(next); }
            catch (ObjectDisposedException) { _captureTaps = next; }
        }
    }

    /// <summary>The capture taps in force (for tests and metrics).</summary>
    public int CaptureTapCount => Volatile.Read(ref _captureTaps).Length;

    // under _captureGate
    private void Publish(CaptureTap[] taps)
    {
        Post(new Command(CommandKind.Captures, null) { Captures = taps.Length == 0 ? null : new CaptureTable(taps) });
        Volatile.Write(ref _captureTaps, taps);
    }
}
