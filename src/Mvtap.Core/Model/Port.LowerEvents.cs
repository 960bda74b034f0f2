// The port's lower events (spec 4.3, 4.4, 4.5): what the adapter reports about the lower device
// itself (its MAC, MTU, state, promiscuity, a rename, and the device opened anew after it came
// back or was followed into another namespace), applied to the port and its endpoints.
using Mvtap.Core.Frames;

namespace Mvtap.Core.Model;

public sealed partial class Port
{
    // ---- lower events (spec 4.3, 4.4, 4.5) ------------------------------------------------

    /// <summary>The lower's MAC changed outside mvtap. A passthru endpoint follows it and the
    /// new MAC becomes the one to restore (spec 4.4, A16).</summary>
    public void OnLowerMacChanged(MacAddress mac) => Update(() =>
    {
        // a change mvtap made itself (passthru) is the lower's MAC already when its event arrives
        if (mac == Lower.Mac) return;
        Lower.Mac = mac;
        if (IsPassthru)
        {
            PermanentMac = mac;
            foreach (var ep in _endpoints) ep.Mac = mac;
        }
    });

    /// <summary>spec 4.3: a lower MTU decrease clamps endpoints; an increase leaves them.</summary>
    public void OnLowerMtuChanged(int mtu) => Update(() =>
    {
        Lower.Mtu = mtu;
        foreach (var ep in _endpoints) if (ep.Mtu > mtu) ep.Mtu = mtu;
    });

    /// <summary>spec 4.5: endpoints keep their admin state and lose carrier with the lower.</summary>
    public void OnLowerStateChanged(bool up, bool carrier) => Update(() =>
    {
        Lower.IsUp = up;
        Lower.HasCarrier = carrier;
    });

    /// <summary>The lower was renamed; it is the same device (followed by its index).</summary>
    public void OnLowerRenamed(string name) => Update(() => Lower.Name = name);

    /// <summary>The lower was opened anew (it came back after a deletion, or was followed into
    /// another namespace): its facts are the new device's. The endpoints keep their configuration;
    /// MTUs above the new lower's are clamped (spec 4.3). A passthru port asks for its endpoint's MAC
    /// on the new device (spec 4.4), whose own MAC becomes the one to restore; if the device refuses,
    /// the endpoint follows the device's MAC (A16).</summary>
    public void OnLowerReplaced(MacAddress mac, int mtu, int maxMtu, bool supportsUnicastFilter, bool up, bool carrier)
    {
        long change;
        MacAddress? reapply = null;
        lock (_gate)
        {
            WaitForLowerMac();
            Lower.MaxMtu = maxMtu;
            Lower.SupportsUnicastFilter = supportsUnicastFilter;
            Lower.Mtu = mtu;
            foreach (var ep in _endpoints) if (ep.Mtu > mtu) ep.Mtu = mtu;
            Lower.IsUp = up;
            Lower.HasCarrier = carrier;
            PermanentMac = mac;
            if (IsPassthru && mac != Lower.Mac && LowerMacApplier is not null) (reapply, _lowerMacChanging) = (Lower.Mac, true);
            else FollowLowerMac(mac);
            change = Publish();
        }
        if (reapply is { } wanted) change = SetLowerMacBesides(wanted, applied => { if (!applied) FollowLowerMac(mac); });
        Raise(change);
    }

    // Under _gate: the lower's MAC is what the device has; a passthru endpoint carries it (A16).
    private void FollowLowerMac(MacAddress mac)
    {
        Lower.Mac = mac;
        if (IsPassthru) foreach (var ep in _endpoints) ep.Mac = mac;
    }

    /// <summary>The lower's own promiscuity/allmulti (tcpdump, the host), spec 1.5.</summary>
    public void OnLowerPromiscuityChanged(int ownPromiscuity, int ownAllMulti) => Update(() =>
    {
        Lower.OwnPromiscuity = ownPromiscuity;
        Lower.OwnAllMulti = ownAllMulti;
    });
}
