// The per-endpoint families of `mvtapd --metrics`, named like node_exporter's network collector
// (node_network_receive_packets_total…) with labels endpoint, lower, mode and type, and the
// per-vhost-user-endpoint families (labels endpoint, lower). Each value is read at scrape time from
// the counters the datapath keeps (plain longs read with Volatile): the same sources, and so the
// same numbers, as `mvtap -s -j link show`.
using Mvtap.Core.Model;
using Mvtap.Daemon.Links;
using Mvtap.VhostUser.Net;
using Prometheus;

namespace Mvtap.Daemon.Metrics;

internal sealed class EndpointMetrics
{
    private static readonly string[] Labels = ["endpoint", "lower", "mode", "type"];
    private static readonly string[] VhostLabels = ["endpoint", "lower"];
    private static readonly DropReason[] Reasons = Enum.GetValues<DropReason>();

    private readonly TrackedSeries<Counter.Child> _rxPackets, _rxBytes, _rxMulticast, _rxErrors, _rxDrop, _txPackets, _txBytes, _txDrop, _drops;
    private readonly TrackedSeries<Gauge.Child> _up, _carrier;
    private readonly TrackedSeries<Counter.Child> _ringFull, _broken, _protocolErrors, _memoryFaults, _callProblems, _connections, _disconnects, _vhostDrops;

    public EndpointMetrics(IMetricFactory f)
    {
        TrackedSeries<Counter.Child> C(string name, string help, params string[] extra) =>
            TrackedSeries.Of(f.CreateCounter(name, help, [.. Labels, .. extra]));
        TrackedSeries<Counter.Child> V(string name, string help, params string[] extra) =>
            TrackedSeries.Of(f.CreateCounter(name, help, [.. VhostLabels, .. extra]));
        _rxPackets = C("mvtap_endpoint_receive_packets_total", "Frames delivered to the endpoint (rx packets of mvtap -s link show).");
        _rxBytes = C("mvtap_endpoint_receive_bytes_total", "Bytes of the frames delivered to the endpoint.");
        _rxMulticast = C("mvtap_endpoint_receive_multicast_total", "Multicast and broadcast frames delivered to the endpoint.");
        _rxErrors = C("mvtap_endpoint_receive_errs_total", "Frames for the endpoint that its queue could not take (rx errors).");
        _rxDrop = C("mvtap_endpoint_receive_drop_total", "Frames for the endpoint that were dropped (rx dropped).");
        _txPackets = C("mvtap_endpoint_transmit_packets_total", "Frames the endpoint sent that mvtap forwarded (tx packets).");
        _txBytes = C("mvtap_endpoint_transmit_bytes_total", "Bytes of the frames the endpoint sent that mvtap forwarded.");
        _txDrop = C("mvtap_endpoint_transmit_drop_total", "Frames the endpoint sent that were dropped (tx dropped).");
        _drops = C("mvtap_endpoint_drops_total", "Frames to or from the endpoint dropped, by reason (drops_by_reason of mvtap -s -j link show).", "reason");
        _up = TrackedSeries.Of(f.CreateGauge("mvtap_endpoint_up", "1 when the endpoint is administratively up.", Labels));
        _carrier = TrackedSeries.Of(f.CreateGauge("mvtap_endpoint_carrier", "1 when the endpoint has carrier (up, its lower present and forwarding).", Labels));
        _ringFull = V("mvtap_vhost_user_ring_full_total", "Frames for the guest dropped because it had posted no receive buffer (its ring was full).");
        _broken = V("mvtap_vhost_user_device_broken_total", "Times the vhost-user device was marked broken because of guest memory or ring contents.");
        _protocolErrors = V("mvtap_vhost_user_protocol_errors_total", "Malformed or refused vhost-user messages.");
        _memoryFaults = V("mvtap_vhost_user_guest_memory_faults_total", "Touches of guest memory that the frontend had taken away.");
        _callProblems = V("mvtap_vhost_user_call_problems_total", "Call descriptors made blocking or that could not be written.");
        _connections = V("mvtap_vhost_user_connections_total", "vhost-user sessions accepted.");
        _disconnects = V("mvtap_vhost_user_disconnects_total", "vhost-user sessions ended.");
        _vhostDrops = V("mvtap_vhost_user_drops_total", "Frames the vhost-user device dropped, by direction (to_guest, from_guest) and reason.", "direction", "reason");
    }

    public void Set(EndpointRecord record, VhostUserNetCounters? vhost)
    {
        var ep = record.Endpoint;
        var c = ep.Counters;
        string[] l = [ep.Name, record.Lower.Name, ep.Mode.Name(), record.TypeName];
        _rxPackets.Set(ep, Volatile.Read(ref c.RxPackets), l);
        _rxBytes.Set(ep, Volatile.Read(ref c.RxBytes), l);
        _rxMulticast.Set(ep, Volatile.Read(ref c.RxMulticast), l);
        _rxErrors.Set(ep, Volatile.Read(ref c.RxErrors), l);
        _rxDrop.Set(ep, Volatile.Read(ref c.RxDropped), l);
        _txPackets.Set(ep, Volatile.Read(ref c.TxPackets), l);
        _txBytes.Set(ep, Volatile.Read(ref c.TxBytes), l);
        _txDrop.Set(ep, Volatile.Read(ref c.TxDropped), l);
        foreach (var reason in Reasons) _drops.Set(ep, c[reason], [.. l, reason.Name()]);
        _up.Set(ep, ep.IsUp ? 1 : 0, l);
        _carrier.Set(ep, ep.IsUp && ep.HasCarrier && record.Lower.Health.Forwarding ? 1 : 0, l);
        if (vhost is null) return;
        string[] v = [ep.Name, record.Lower.Name];
        _ringFull.Set(vhost, vhost.RxDropNoBuffer, v);
        _broken.Set(vhost, vhost.GuestErrors, v);
        _protocolErrors.Set(vhost, vhost.ProtocolErrors, v);
        _memoryFaults.Set(vhost, vhost.GuestMemoryFaults, v);
        _callProblems.Set(vhost, vhost.CallProblems, v);
        _connections.Set(vhost, vhost.Connections, v);
        _disconnects.Set(vhost, vhost.Disconnects, v);
        _vhostDrops.Set(vhost, vhost.RxDropTooBig, [.. v, "to_guest", "too_big"]);
        _vhostDrops.Set(vhost, vhost.RxDropOffload, [.. v, "to_guest", "offload"]);
        _vhostDrops.Set(vhost, vhost.RxDropNotReady, [.. v, "to_guest", "not_ready"]);
        _vhostDrops.Set(vhost, vhost.TxDropBadHeader, [.. v, "from_guest", "bad_header"]);
        _vhostDrops.Set(vhost, vhost.TxDropOversize, [.. v, "from_guest", "oversize"]);
        _vhostDrops.Set(vhost, vhost.TxDropDisabled, [.. v, "from_guest", "disabled"]);
    }

    public void Sweep()
    {
        foreach (var s in new[] { _rxPackets, _rxBytes, _rxMulticast, _rxErrors, _rxDrop, _txPackets, _txBytes, _txDrop, _drops,
                     _ringFull, _broken, _protocolErrors, _memoryFaults, _callProblems, _connections, _disconnects, _vhostDrops })
            s.Sweep();
        _up.Sweep();
        _carrier.Sweep();
    }
}
