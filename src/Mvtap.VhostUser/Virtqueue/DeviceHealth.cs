// The device-wide "broken" state (virtio's DEVICE_NEEDS_RESET): the first guest error on any
// ring stops every ring of the device until the frontend resets it. Shared by the device's
// rings; read without a lock by the datapath, hence volatile.
namespace Mvtap.VhostUser.Virtqueue;

public sealed class DeviceHealth(Action<string> onBroken)
{
    private volatile string? _reason;

    public string? BrokenReason => _reason;
    public bool IsBroken => _reason != null;

    /// <summary>Marks the device broken; only the first reason is kept and reported.</summary>
    public void MarkBroken(string reason)
    {
        if (Interlocked.CompareExchange(ref _reason, reason, null) == null) onBroken(reason);
    }

    public void Clear() => _reason = null;
}
