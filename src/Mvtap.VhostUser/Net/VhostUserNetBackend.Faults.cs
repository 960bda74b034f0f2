// A frontend that shrinks its guest memory file under the mapping (possible only where the
// endpoint maps unsealed memory, GuestMemoryPolicy.Any): the next touch of a lost page raises
// SIGBUS, which .NET delivers as an AccessViolationException. By default the runtime ends the
// process on it whatever catches it; mvtapd runs with the runtime setting that lets it be caught
// (Mvtap.Daemon's GuestMemoryFaults). Every method that touches guest memory on the datapath
// catches it around its ring lock: the device is marked broken (no ring is touched again until
// the frontend resets it), the fault counted, and GuestMemoryLost asks the endpoint to close
// the session, whose end unmaps the memory. Touches on the control thread end the session the
// same way (Serve). Without that runtime setting these catch blocks are never reached.
using Mvtap.Core.Model;
using Mvtap.VhostUser.Virtqueue;

namespace Mvtap.VhostUser.Net;

public sealed partial class VhostUserNetBackend
{
    /// <summary>Raised (on the thread that touched it, with no ring lock held) when guest memory
    /// vanished under its mapping: the owner should end the session.</summary>
    public event Action? GuestMemoryLost;

    /// <summary>Whether this process was started with the runtime setting that delivers a fault in
    /// guest memory to the catch blocks here (else it ends the process).</summary>
    public static bool GuestMemoryFaultsCatchable { get; } =
        Environment.GetEnvironmentVariable("DOTNET_legacyCorruptedStateExceptionsPolicy") == "1";

    private void OnGuestMemoryFault(SplitVirtqueue vq)
    {
        Interlocked.Increment(ref Counters._guestMemoryFaults);
        _health.MarkBroken($"vring {vq.Index}: guest memory vanished under its mapping (the frontend shrank its memory file)");
        GuestMemoryLost?.Invoke();
    }
}
