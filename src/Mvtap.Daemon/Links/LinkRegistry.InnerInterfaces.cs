// What a container does to its macvlan endpoint's NIC that changes the registry itself: a NIC deleted
// inside its container (or gone with its namespace) deletes the endpoint, as the kernel deletes a
// macvlan whose device is deleted; a NIC moved on to another namespace is shown and saved there.
// The lower host has already done it to the endpoint (on a thread of its own); here the record follows,
// and `mvtap monitor` is told (SystemChanged).
using Microsoft.Extensions.Logging;
using Mvtap.Core.Model;

namespace Mvtap.Daemon.Links;

public sealed partial class LinkRegistry
{
    // A macvlan endpoint whose interface was deleted inside its container (or went with its namespace):
    // its lower host deleted it, as the kernel deletes a macvlan whose device is deleted. Forgotten and saved.
    private void OnEndpointDeleted(Endpoint ep, string line)
    {
        lock (_gate)
        {
            if (_disposed || _records.Find(r => r.Endpoint == ep) is not { } record) return;
            _records.Remove(record);
            _log.LogInformation("deleted {Name} (index {Index}): {Reason}", record.Name, record.Index, line);
            CloseIfEmpty(record.Lower);
            SaveLogged("the deletion of an endpoint whose interface was deleted");
        }
        OnSystemChange();
    }

    // Moved on to another namespace by its container: shown and saved with that namespace's name.
    private void OnEndpointMoved(Endpoint ep, string? netns)
    {
        lock (_gate)
        {
            if (_disposed || netns is null || _records.Find(r => r.Endpoint == ep) is not { } record) return;
            record.Netns = netns;
            SaveLogged($"{record.Name}'s move to {netns}");
        }
        OnSystemChange();
    }

    private void SaveLogged(string what)
    {
        try { Save(); }
        catch (Exception e) { _log.LogError("cannot save the state after {What}: {Error}", what, e.Message); }
    }
}
