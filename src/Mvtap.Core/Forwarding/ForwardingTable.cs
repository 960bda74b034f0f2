// The immutable view of one port that the datapath forwards with. The control plane builds a
// new one after every change and publishes it with a single reference write, as the kernel
// publishes with RCU, so the datapath never takes a lock the control plane holds.
using System.Collections.Frozen;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;

namespace Mvtap.Core.Forwarding;

public sealed class ForwardingTable
{
    internal ForwardingTable(Port port, IReadOnlyList<Endpoint> endpoints, int slots)
    {
        Port = port;
        var lower = port.Lower;
        BySlot = new EndpointSnapshot?[slots];
        var up = new List<EndpointSnapshot>();
        var byMac = new List<KeyValuePair<MacAddress, EndpointSnapshot>>();
        var sources = new Dictionary<ulong, List<EndpointSnapshot>>();
        var subscribers = new Dictionary<ulong, int>();
        int promisc = lower.OwnPromiscuity, allmulti = lower.OwnAllMulti;
        bool anyUnicastAddress = false;
        foreach (var ep in endpoints)
        {
            var snap = new EndpointSnapshot(ep);
            BySlot[ep.Slot] = snap;
            // spec 1.7: source entries exist whatever the state; NODST acts even when down (Q4)
            foreach (var mac in ep.SourceMacs)
            {
                if (!sources.TryGetValue(mac.Value, out var list)) sources[mac.Value] = list = [];
                list.Add(snap);
            }
            if (!ep.IsUp) continue;
            up.Add(snap);
            byMac.Add(new(ep.Mac, snap));
            // spec 1.5: a group counts for the port filters once per up endpoint that synced it
            foreach (var g in ep.Groups) subscribers[g.Value] = subscribers.GetValueOrDefault(g.Value) + 1;
            // spec 4.2 / 4.4: what an up endpoint pushes into the lower
            if (ep.AllMulti) allmulti++;
            if (ep.Mode == EndpointMode.Passthru)
            {
                if ((ep.Flags & EndpointFlags.NoPromisc) == 0) promisc++;
            }
            else
            {
                anyUnicastAddress = true;
                if (ep.Promisc) promisc++;
            }
        }
        if (anyUnicastAddress && !lower.SupportsUnicastFilter) promisc++;

        UpEndpoints = [.. up];
        ByMac = new MacTable<EndpointSnapshot>(byMac);
        Sources = sources.ToFrozenDictionary(kv => kv.Key, kv => kv.Value.ToArray());
        GroupSubscribers = subscribers.ToFrozenDictionary();
        foreach (var snap in up) if (snap.IsHostPort) HostPort = snap;
        Passthru = port.IsPassthru && endpoints.Count > 0 ? BySlot[endpoints[0].Slot] : null;
        LowerPromiscuity = promisc;
        LowerAllMulti = allmulti;
        LowerOperational = lower.IsOperational;
        LowerMtu = lower.Mtu;
        BcCutoff = port.BcCutoff;
        BcQueueLenUsed = port.BcQueueLenUsed;
    }

    public Port Port { get; }
    public EndpointSnapshot?[] BySlot { get; }
    /// <summary>Up endpoints in creation order: the broadcast fan-out order.</summary>
    public EndpointSnapshot[] UpEndpoints { get; }
    /// <summary>spec 1.4: only up endpoints, keyed by their current MAC.</summary>
    public MacTable<EndpointSnapshot> ByMac { get; }
    public FrozenDictionary<ulong, EndpointSnapshot[]> Sources { get; }
    public FrozenDictionary<ulong, int> GroupSubscribers { get; }
    public EndpointSnapshot? Passthru { get; }
    /// <summary>The port's host port while it is up; null otherwise (then no host-port rule applies).</summary>
    public EndpointSnapshot? HostPort { get; }
    public int LowerPromiscuity { get; }
    public int LowerAllMulti { get; }
    public bool LowerOperational { get; }
    public int LowerMtu { get; }
    public int BcCutoff { get; }
    public uint BcQueueLenUsed { get; }

    public EndpointSnapshot? Find(Endpoint ep) =>
        (uint)ep.Slot < (uint)BySlot.Length && BySlot[ep.Slot] is { } s && ReferenceEquals(s.Endpoint, ep) ? s : null;

    /// <summary>The port's BcFilter (spec 1.5, 3.6): is a multicast destination deferred to
    /// the broadcast queue? Exact counts stand in for the kernel's 256-bit hash.</summary>
    public bool IsQueued(MacAddress dst)
    {
        if (BcCutoff < 0) return false;
        if (LowerPromiscuity > 0 || LowerAllMulti > 0 || dst.IsBroadcast) return true;
        return GroupSubscribers.GetValueOrDefault(dst.Value) > BcCutoff;
    }

    /// <summary>The port's McFilter (spec 1.5): may any endpoint want this group at all?</summary>
    public bool IsWanted(MacAddress dst) =>
        LowerPromiscuity > 0 || LowerAllMulti > 0 || dst.IsBroadcast || GroupSubscribers.ContainsKey(dst.Value);
}
