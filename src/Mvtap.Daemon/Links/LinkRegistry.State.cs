// The registry's persistence: the state it saves (every endpoint, and those a restore could not
// bring back yet), the saves of changes that do not come through a request (a container's changes
// to its NIC, the lower's events), and the restore on start.
using Microsoft.Extensions.Logging;
using Mvtap.Control;
using Mvtap.Core.Model;
using Mvtap.Daemon.State;
using Mvtap.VhostUser.Memory;

namespace Mvtap.Daemon.Links;

public sealed partial class LinkRegistry
{
    private readonly List<EndpointState> _unrestored = [];
    private bool _disposed;

    public IReadOnlyList<EndpointRecord> Records { get { lock (_gate) return [.. _records]; } }

    /// <summary>Calls <paramref name="visit"/> for each endpoint under the control plane's lock, so what
    /// it reads of the records (their attachment points) does not change meanwhile; it must be quick.</summary>
    public void Visit(Action<EndpointRecord> visit)
    {
        lock (_gate) foreach (var record in _records) visit(record);
    }

    public DaemonState Snapshot()
    {
        lock (_gate) return Snapshot(without: null);
    }

    // Under _gate: the state as it is, or as it will be once <paramref name="without"/> is deleted.
    private DaemonState Snapshot(EndpointRecord? without) => new()
    {
        NextIndex = _nextIndex,
        Endpoints = [.. _records.Where(x => x != without).OrderBy(x => x.Index).Select(x => new EndpointState
        {
            Index = x.Index,
            Name = x.Name,
            Type = x.TypeName,
            Lower = x.Lower.Name,
            Mac = x.Endpoint.Mac.ToString(),
            Mode = x.Endpoint.Mode.Name(),
            Flags = x.Endpoint.Flags.Names(),
            Up = x.Endpoint.IsUp,
            Mtu = x.Endpoint.Mtu,
            TxQueueLen = x.TxQueueLen,
            BcQueueLen = x.Endpoint.BcQueueLenRequest,
            BcCutoff = x.Lower.Port.BcCutoff,
            Macaddrs = [.. x.Endpoint.SourceList.Select(m => m.ToString())],
            SpoofCheck = x.Endpoint.SpoofCheck,
            Owner = x.Owner,
            Group = x.Group,
            Netns = x.Netns,
            GuestMemory = x.Kind == Lowers.EndpointKind.Macvtap ? x.GuestMemory.Name() : null,
            VhostUserPath = x.VhostUserPath,
            Cni = x.Cni,
            VhostUserMode = x.VhostUserConnect ? VhostUserModes.Connect : null,
            VhostUserRootPeer = x.VhostUserConnect ? x.VhostUserRootPeer : null,
            HostAccess = x.Endpoint.HostAccess || x.Endpoint.IsHostPort,
            TapName = x.TapName,
        }).Concat(_unrestored).OrderBy(e => e.Index)],
    };

    // Under _gate. Throws a MvtapException naming the file and the cause when the state could not
    // be put in place; the caller takes its change back (or, for a delete, has not made it yet).
    private void Save(EndpointRecord? without = null)
    {
        if (_store?.Save(Snapshot(without)) is { } warning) _log.LogWarning("{Warning}", warning);
    }

    // Not every change of an endpoint comes through Handle: a macvlan endpoint follows its own
    // interface (a container's `ip link set eth0 down` or `address`, see the Linux datapath's
    // InnerLinkFollower), and the lower's events change its port. Those reach the port directly, so
    // `link show` reads them from the endpoint at once; this saves them. Changed runs on the port's
    // event drainer, which may be a thread whose change a control request (holding _gate) waits for:
    // so the save runs later on the thread pool, and saves requested meanwhile are coalesced into it.
    // A change that could not be saved was made (the interface has it already), so it is not taken
    // back: the failure is logged at error level and the next save that succeeds carries it.
    private int _saveQueued;

    private void OnPortChanged(Port port)
    {
        if (_store is null || Interlocked.Exchange(ref _saveQueued, 1) == 1) return;
        ThreadPool.QueueUserWorkItem(_ =>
        {
            Volatile.Write(ref _saveQueued, 0);
            try
            {
                lock (_gate) if (!_disposed) Save();
            }
            catch (Exception e)
            {
                _log.LogError("cannot save a change of an endpoint made outside mvtap's requests (its interface, its lower): {Error}", e.Message);
            }
        });
    }

    /// <summary>Brings back every endpoint of a saved state, with its index. An endpoint that
    /// cannot be restored is logged and kept in the state file; one whose lower is missing is
    /// restored when the lower appears (RetryRestore).</summary>
    public void Restore(DaemonState state)
    {
        lock (_gate)
        {
            // past every saved index, restored or not: one kept for a missing lower must not be
            // handed to a new endpoint meanwhile (StateStore refused an index of int.MaxValue)
            _nextIndex = Math.Max(1, state.NextIndex);
            foreach (var e in state.Endpoints) _nextIndex = Math.Max(_nextIndex, e.Index + 1);
            foreach (var e in state.Endpoints.OrderBy(e => e.Index))
            {
                try
                {
                    Create(RestoreRequest(e), e.Index, rootPeer: e.VhostUserRootPeer ?? true);
                }
                // a container's namespace that went while mvtapd was away fails below the core's rules
                catch (Exception ex) when (ex is MvtapException or Linux.Interop.SystemCallException or Linux.Netlink.NetlinkException)
                {
                    bool lowerMissing = ex is MvtapException { Errno: Errno.ENODEV };
                    Unrestored(e, lowerMissing);
                    _log.LogError("cannot restore {Name} (index {Index}) on {Lower}: {Error}; it stays in the state file{Retry}", InterfaceNames.Printable(e.Name), e.Index, e.Lower, ex.Message,
                        lowerMissing ? $", and is restored when {e.Lower} appears" : "");
                }
            }
        }
    }
}
