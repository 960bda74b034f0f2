// The switch's `tap` macvtap endpoints: each carried by a persistent TAP in a namespace of its own
// (PersistentTapAttachment), made or adopted when the endpoint is added, following the endpoint's
// MAC, MTU and admin state after every change of its port, and deleted with the endpoint, or kept
// when the switch keeps its interfaces (mvtapd stopping, to adopt them again).
using Mvtap.Core.Model;

namespace Mvtap.Datapath;

public sealed partial class DatapathSwitch
{
    private readonly Dictionary<Endpoint, (LowerDatapath Lower, PersistentTapAttachment Attachment)> _taps = [];
    // What OnPortChanged reads without _gate (see _attachments).
    private volatile PersistentTapAttachment[] _tapAttachments = [];

    private Endpoint AddTapEndpoint(LowerDatapath lower, TapSpec spec)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_lowers.Contains(lower)) throw new ArgumentException("that lower is not open in this switch", nameof(lower));
            var ep = lower.Port.Create(spec.Settings);
            PersistentTap? tap = null;
            PersistentTapAttachment? attachment = null;
            try
            {
                tap = PersistentTap.Open(spec.Netns, spec.TapName, spec.Uid, spec.Gid, spec.Adopt);
                var log = spec.Log ?? (line => _log($"{ep.Name}: {line}"));
                attachment = new PersistentTapAttachment(ep, tap, spec.Uid, spec.Gid, log);
                lower.Attach(attachment);
                _taps[ep] = (lower, attachment);
                _tapAttachments = [.. _taps.Values.Select(t => t.Attachment)];
                return ep;
            }
            catch
            {
                _taps.Remove(ep);
                _tapAttachments = [.. _taps.Values.Select(t => t.Attachment)];
                if (attachment is not null)
                {
                    try { lower.Detach(attachment); } catch (Exception) { /* already failing */ }
                    // a TAP this call adopted was the previous run's: it stays for the next attempt
                    attachment.Dispose(keepTap: spec.Adopt);
                }
                else if (tap is not null)
                {
                    if (!spec.Adopt) try { tap.Delete(); } catch (Exception) { /* already failing */ }
                    tap.Dispose();
                }
                lower.Port.Delete(ep);
                throw;
            }
        }
    }

    /// <summary>The attachment of a `tap` endpoint, if <paramref name="ep"/> is one (link show, tests).</summary>
    public PersistentTapAttachment? TapAttachmentOf(Endpoint ep)
    {
        lock (_gate) return _taps.TryGetValue(ep, out var t) ? t.Attachment : null;
    }

    // _gate held: out of its port, out of the datapath, then its TAP deleted (or kept).
    private bool RemoveTap(Endpoint ep, bool keepTap = false)
    {
        if (!_taps.Remove(ep, out var t)) return false;
        _tapAttachments = [.. _taps.Values.Select(x => x.Attachment)];
        if (!ep.IsDeleted) ep.Port.Delete(ep);
        try { t.Lower.Detach(t.Attachment); } catch (Exception) { /* the datapath is stopping anyway */ }
        t.Attachment.Dispose(keepTap);
        return true;
    }

    // _gate held: a lower's `tap` endpoints (every lower's: null) let go of its datapath.
    private void CloseTaps(LowerDatapath? lower)
    {
        foreach (var (ep, t) in _taps.ToList())
        {
            if (lower is not null && t.Lower != lower) continue;
            _taps.Remove(ep);
            try { t.Lower.Detach(t.Attachment); } catch (Exception) { /* the datapath is stopping anyway */ }
            try { t.Attachment.Dispose(KeepInterfaces); }
            catch (Exception e) { _log($"{ep.Name}: its tap {t.Attachment.Tap.Name} cannot be deleted: {e.Message}"); }
        }
        _tapAttachments = [.. _taps.Values.Select(x => x.Attachment)];
    }

    // From OnPortChanged: each TAP carries its endpoint's MAC, MTU and admin state.
    private void FollowTaps(Port port)
    {
        foreach (var a in _tapAttachments)
        {
            if (a.Endpoint.Port != port || a.Endpoint.IsDeleted) continue;
            try { a.Follow(); }
            catch (Exception e) when (e is Linux.Netlink.NetlinkException or Linux.Interop.SystemCallException or MvtapException)
            {
                _log($"{a.Endpoint.Name}: its tap {a.Tap.Name} cannot follow the endpoint: {e.Message}");
            }
        }
    }
}
