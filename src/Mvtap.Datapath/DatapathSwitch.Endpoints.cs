// The one place where an endpoint of any kind is assembled on a lower from its EndpointSpec, and
// where a macvtap endpoint's attachment points (MacvtapAttachmentPoints) are kept: opened, given a
// new owner or guest memory policy, relayed to a TAP, and disposed with their endpoint or lower.
// A macvlan endpoint's veth pair is DatapathSwitch.AddMacvlanEndpoint's.
using Mvtap.Core.Model;
using Mvtap.Linux;

namespace Mvtap.Datapath;

public sealed partial class DatapathSwitch
{
    // Every macvtap endpoint of this switch, with its attachment points once they are opened.
    private readonly Dictionary<Endpoint, MacvtapAttachmentPoints?> _macvtaps = [];

    /// <summary>Creates an endpoint of the kind <paramref name="spec"/> describes on <paramref name="lower"/>,
    /// with whatever carries its frames.</summary>
    public Endpoint AddEndpoint(LowerDatapath lower, EndpointSpec spec) => spec switch
    {
        MacvlanSpec m => AddMacvlanEndpoint(lower, m.Settings, m.Netns, m.InterfaceName, m.Up, m.Adopt),
        MacvtapSpec t => AddMacvtapEndpoint(lower, t),
        // the host port is a macvlan whose interface never leaves the host: the veth carries it
        HostPortSpec h => AddMacvlanEndpoint(lower, h.Settings with { IsHostPort = true }, null, h.InterfaceName, false, h.Adopt),
        TapSpec p => AddTapEndpoint(lower, p),
        _ => throw new ArgumentException($"no endpoint kind {spec.GetType().Name}", nameof(spec)),
    };

    private Endpoint AddMacvtapEndpoint(LowerDatapath lower, MacvtapSpec spec)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_lowers.Contains(lower)) throw new ArgumentException("that lower is not open in this switch", nameof(lower));
            var ep = lower.Port.Create(spec.Settings);
            _macvtaps[ep] = null;
            if (spec.Places is { } places)
            {
                try { OpenAttachmentPoints(ep, places, spec.Log); }
                catch
                {
                    _macvtaps.Remove(ep);
                    lower.Port.Delete(ep);
                    throw;
                }
            }
            return ep;
        }
    }

    /// <summary>Opens a macvtap endpoint's attachment points at <paramref name="places"/>, or gives the ones it
    /// has that owner, group and guest memory policy. <paramref name="log"/> takes their events' lines
    /// (default: the switch's log, after the endpoint's name).</summary>
    public void OpenAttachmentPoints(Endpoint ep, MacvtapPlaces places, Action<string>? log = null)
    {
        lock (_gate)
        {
            if (!_macvtaps.TryGetValue(ep, out var existing)) throw NotAMacvtap(ep);
            if (existing is not null)
            {
                existing.SetOwner(places.Uid, places.Gid);
                existing.SetGuestMemory(places.GuestMemory);
                return;
            }
            var lower = _lowers.Find(l => l.Port == ep.Port) ?? throw NotOurs(ep);
            _macvtaps[ep] = MacvtapAttachmentPoints.Open(lower, ep, places, log ?? (line => _log($"{ep.Name}: {line}")));
        }
    }

    /// <summary>Creates a macvtap endpoint's kernel TAP in the switch's namespace and relays it (mvtap run).</summary>
    public TapDevice OpenTap(Endpoint ep)
    {
        lock (_gate)
            return _macvtaps.GetValueOrDefault(ep) is { } points ? points.OpenTap(Namespace) : throw NotAMacvtap(ep);
    }

    /// <summary>The attachment points of a macvtap endpoint, if it has them (tests, diagnostics).</summary>
    public MacvtapAttachmentPoints? AttachmentPointsOf(Endpoint ep)
    {
        lock (_gate) return _macvtaps.GetValueOrDefault(ep);
    }

    // _gate held: a macvtap endpoint leaves its port, then its attachment points close.
    private bool RemoveMacvtap(Endpoint ep)
    {
        if (!_macvtaps.Remove(ep, out var points)) return false;
        ep.Port.Delete(ep);
        points?.Dispose();
        return true;
    }

    // _gate held: the attachment points of a lower's macvtap endpoints let go of its datapath.
    private void CloseMacvtaps(LowerDatapath? lower)
    {
        foreach (var (ep, points) in _macvtaps.ToList())
        {
            if (lower is not null && ep.Port != lower.Port) continue;
            _macvtaps.Remove(ep);
            points?.Dispose();
        }
    }

    private static MvtapException NotAMacvtap(Endpoint ep) => new(Errno.EINVAL, $"{ep.Name} is not a macvtap endpoint");
}
