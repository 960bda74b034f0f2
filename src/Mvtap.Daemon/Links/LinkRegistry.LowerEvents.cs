// What the registry does when the system changes under it rather than at a client's request: a
// lower that appears after mvtapd started gets the saved endpoints that waited for it (restore
// retries; one deleted by name meanwhile is not waited for any more), and a lower that was
// deleted takes its endpoints with it when mvtapd follows the kernel (--lower-gone delete). Either is
// told to `mvtap monitor` (SystemChanged).
using Microsoft.Extensions.Logging;
using Mvtap.Control;
using Mvtap.Core.Model;
using Mvtap.Daemon.State;

namespace Mvtap.Daemon.Links;

public sealed partial class LinkRegistry
{
    // unrestored endpoints whose lower did not exist, and those lowers' names (read without the lock)
    private readonly List<EndpointState> _waitingForLower = [];
    private volatile string[] _awaitedLowers = [];

    // Restore: an endpoint that could not be restored; one whose lower is missing waits for it.
    private void Unrestored(EndpointState e, bool lowerMissing)
    {
        _unrestored.Add(e);
        if (lowerMissing) _waitingForLower.Add(e);
        _awaitedLowers = [.. _waitingForLower.Select(w => w.Lower).Distinct()];
    }

    // Under _gate: a saved endpoint a restore could not bring back, deleted by name. Saved without it
    // first (refused whole when that fails), and no longer waited for: its lower appearing later
    // must not bring it back.
    private ControlResponse DeleteUnrestored(EndpointState saved)
    {
        _unrestored.Remove(saved);
        try
        {
            Save();
        }
        catch (MvtapException)
        {
            _unrestored.Add(saved);
            throw;
        }
        if (_waitingForLower.Remove(saved)) _awaitedLowers = [.. _waitingForLower.Select(w => w.Lower).Distinct()];
        _log.LogInformation("deleted {Name} (index {Index}), which was saved but not restored", InterfaceNames.Printable(saved.Name), saved.Index);
        return ControlResponse.Success();
    }

    /// <summary>Whether an endpoint of the saved state waits for a lower of this name (cheap: called
    /// for every link event).</summary>
    public bool WaitsForLower(string name) => Array.IndexOf(_awaitedLowers, name) >= 0;

    /// <summary>The lowers saved endpoints wait for.</summary>
    public IReadOnlyList<string> AwaitedLowers => _awaitedLowers;

    /// <summary>Restores the saved endpoints that wait for lower <paramref name="lowerName"/> (it appeared
    /// after mvtapd started); those whose lower is still missing stay waiting, quietly.</summary>
    public void RetryRestore(string lowerName)
    {
        lock (_gate)
        {
            if (_disposed) return;
            bool restored = false;
            foreach (var e in _waitingForLower.Where(e => e.Lower == lowerName).OrderBy(e => e.Index).ToList())
            {
                try
                {
                    Create(RestoreRequest(e), e.Index, rootPeer: e.VhostUserRootPeer ?? true);
                    _unrestored.Remove(e);
                    _waitingForLower.Remove(e);
                    restored = true;
                    _log.LogInformation("restored {Name} (index {Index}): its lower {Lower} appeared", e.Name, e.Index, e.Lower);
                }
                catch (MvtapException ex) when (ex.Errno == Errno.ENODEV) { /* the lower went again meanwhile: it waits on */ }
                // refused for another reason (a container's namespace that went fails below the core's
                // rules): it stays in the state file, and is not tried on every event
                catch (Exception ex) when (ex is MvtapException or Linux.Interop.SystemCallException or Linux.Netlink.NetlinkException)
                {
                    _waitingForLower.Remove(e);
                    _log.LogError("cannot restore {Name} (index {Index}) on {Lower}, which appeared: {Error}; it stays in the state file", e.Name, e.Index, e.Lower, ex.Message);
                }
            }
            _awaitedLowers = [.. _waitingForLower.Select(w => w.Lower).Distinct()];
            if (!restored) return;
            OnSystemChange();
            // the state file held them already (as not restored); saving is only to be tidy
            try { Save(); }
            catch (MvtapException e) { _log.LogWarning("{Error}", e.Message); }
        }
        EndpointsChanged?.Invoke();
    }

    /// <summary>Deletes every endpoint on the lower whose port is <paramref name="port"/> (it was
    /// deleted, and mvtapd follows the kernel: --lower-gone delete), and saves the state.</summary>
    public void RemoveEndpointsOf(Port port, string why)
    {
        lock (_gate)
        {
            if (_disposed) return;
            foreach (var record in _records.Where(r => r.Lower.Port == port).OrderBy(r => r.Index).ToList())
            {
                // Deleted whatever the disk says, as the kernel deletes a lower's macvlans; saved first
                // when it can be, else it comes back after a restart (and the log says why).
                try { Save(without: record); }
                catch (MvtapException e) { _log.LogError("{Name} (index {Index}) is deleted but still saved: {Error}", record.Name, record.Index, e.Message); }
                _records.Remove(record);
                try { RemoveFromLower(record); }
                catch (Exception e)
                {
                    _log.LogWarning("{Name}: deleting it left something behind: {Error}", record.Name, e.Message);
                }
                _log.LogInformation("deleted {Name} (index {Index}): {Why}", record.Name, record.Index, why);
            }
        }
        OnSystemChange();
        EndpointsChanged?.Invoke();
    }

    private static LinkAddRequest RestoreRequest(EndpointState e) => new()
    {
        Lower = e.Lower, Name = e.Name, Type = e.Type, Mode = e.Mode, Flags = e.Flags, Address = e.Mac,
        Mtu = e.Mtu == 0 ? null : e.Mtu, TxQueueLen = e.TxQueueLen, BcQueueLen = e.BcQueueLen,
        BcCutoff = e.BcCutoff, MacaddrOperation = e.Macaddrs.Count > 0 ? "set" : null,
        Macaddrs = e.Macaddrs.Count > 0 ? e.Macaddrs : null, SpoofCheck = e.SpoofCheck,
        Owner = e.Owner, Group = e.Group, Netns = e.Netns, Up = e.Up, GuestMemory = e.GuestMemory,
        VhostUserPath = e.VhostUserPath, Cni = e.Cni, VhostUserMode = e.VhostUserMode, TapName = e.TapName,
        HostAccess = e.Type == LinkWords.Host ? null : e.HostAccess,
    };
}
