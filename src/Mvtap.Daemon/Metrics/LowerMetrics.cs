// The per-lower families of `mvtapd --metrics` (label lower): the wire counters (frames mvtap took
// from and sent to the lower, stats64.lower of `mvtap -s -j link show`), the frames that reached no
// endpoint by reason, whether the lower forwards, its datapath restarts, and for a packet lower
// what its datapath thread counts of itself (wake-ups, frames per wake-up as a histogram, frames the
// kernel refused, the broadcast queue's depth and the reassembly slots in use as it last saw them).
// Read at scrape time from the counters the datapath keeps.
using Mvtap.Core.Model;
using Mvtap.Daemon.Lowers;
using Mvtap.Datapath;
using Prometheus;

namespace Mvtap.Daemon.Metrics;

internal sealed class LowerMetrics
{
    private static readonly string[] Labels = ["lower"];
    private static readonly DropReason[] Reasons = Enum.GetValues<DropReason>();

    private readonly TrackedSeries<Counter.Child> _rxPackets, _rxBytes, _txPackets, _txBytes, _drops, _restarts;
    private readonly TrackedSeries<Counter.Child> _wakeups, _fromLower, _fromEndpoints, _wireRefused, _wireErrors, _truncated, _overflows, _receiveErrors, _internalErrors;
    private readonly TrackedSeries<Gauge.Child> _forwarding, _broadcastDepth, _reassemblyDatagrams, _reassemblyBytes;
    private readonly FramesPerWakeupSeries _framesPerWakeup;

    public LowerMetrics(IMetricFactory f)
    {
        TrackedSeries<Counter.Child> C(string name, string help, params string[] extra) =>
            TrackedSeries.Of(f.CreateCounter(name, help, [.. Labels, .. extra]));
        _rxPackets = C("mvtap_lower_receive_packets_total", "Frames mvtap took from the lower's wire (stats64.lower.rx_packets).");
        _rxBytes = C("mvtap_lower_receive_bytes_total", "Bytes of the frames mvtap took from the lower's wire.");
        _txPackets = C("mvtap_lower_transmit_packets_total", "Frames mvtap sent to the lower's wire (stats64.lower.tx_packets).");
        _txBytes = C("mvtap_lower_transmit_bytes_total", "Bytes of the frames mvtap sent to the lower's wire.");
        _drops = C("mvtap_lower_drops_total", "Frames on the lower that reached no endpoint or not the wire, by reason (lower_drops_by_reason).", "reason");
        _restarts = C("mvtap_lower_datapath_restarts_total", "Times the lower's datapath thread was restarted after a failure.");
        _forwarding = TrackedSeries.Of(f.CreateGauge("mvtap_lower_forwarding", "1 when the lower is present and its datapath thread forwards.", Labels));
        _wakeups = C("mvtap_datapath_wakeups_total", "Times the lower's datapath thread woke up with work.");
        _fromLower = C("mvtap_datapath_frames_from_lower_total", "Frames the datapath thread read from the lower's socket.");
        _fromEndpoints = C("mvtap_datapath_frames_from_endpoints_total", "Frames the datapath thread read from its endpoints.");
        _wireRefused = C("mvtap_datapath_wire_refused_total", "Frames for the wire the lower's socket would not take (buffer full).");
        _wireErrors = C("mvtap_datapath_wire_errors_total", "Frames for the wire the kernel rejected.");
        _truncated = C("mvtap_datapath_truncated_total", "Received frames longer than a receive slot, dropped.");
        _overflows = C("mvtap_datapath_overflows_total", "Frames the kernel could not queue whole because the thread fell behind.");
        _receiveErrors = C("mvtap_datapath_receive_errors_total", "Receive calls that failed.");
        _internalErrors = C("mvtap_datapath_internal_errors_total", "Frames whose handling failed inside mvtap (dropped as internal_error).");
        TrackedSeries<Gauge.Child> G(string name, string help) => TrackedSeries.Of(f.CreateGauge(name, help, Labels));
        _broadcastDepth = G("mvtap_lower_broadcast_queue_depth", "Frames in the lower's broadcast queue when its datapath thread last ran the broadcast work.");
        _reassemblyDatagrams = G("mvtap_lower_reassembly_datagrams", "IPv4 multicast datagrams held in reassembly on the lower (slots in use).");
        _reassemblyBytes = G("mvtap_lower_reassembly_bytes", "Bytes of the fragments held in reassembly on the lower.");
        _framesPerWakeup = new FramesPerWakeupSeries(f);
    }

    public void Set(ILowerHost lower)
    {
        var port = lower.Port;
        var c = port.Counters;
        string[] l = [lower.Name];
        _rxPackets.Set(port, Volatile.Read(ref c.RxPackets), l);
        _rxBytes.Set(port, Volatile.Read(ref c.RxBytes), l);
        _txPackets.Set(port, Volatile.Read(ref c.TxPackets), l);
        _txBytes.Set(port, Volatile.Read(ref c.TxBytes), l);
        foreach (var reason in Reasons) _drops.Set(port, c[reason], [lower.Name, reason.Name()]);
        var health = lower.Health;
        _forwarding.Set(port, health.Forwarding ? 1 : 0, l);
        if (health.DatapathState is not null) _restarts.Set(port, health.DatapathRestarts, l);
        if (lower is PacketLowerHost packet) SetThread(packet.Datapath.Stats, l);
    }

    private void SetThread(DatapathStats s, string[] l)
    {
        _wakeups.Set(s, s.Wakeups, l);
        _fromLower.Set(s, s.FramesFromLower, l);
        _fromEndpoints.Set(s, s.FramesFromEndpoints, l);
        _wireRefused.Set(s, s.WireRefused, l);
        _wireErrors.Set(s, s.WireErrors, l);
        _truncated.Set(s, s.Truncated, l);
        _overflows.Set(s, s.Overflows, l);
        _receiveErrors.Set(s, s.ReceiveErrors, l);
        _internalErrors.Set(s, s.InternalErrors, l);
        _broadcastDepth.Set(s, s.BroadcastQueueDepth, l);
        _reassemblyDatagrams.Set(s, s.ReassemblyDatagrams, l);
        _reassemblyBytes.Set(s, s.ReassemblyBytes, l);
        _framesPerWakeup.Set(s.FramesPerWakeup, l[0]);
    }

    public void Sweep()
    {
        foreach (var s in new[] { _rxPackets, _rxBytes, _txPackets, _txBytes, _drops, _restarts,
                     _wakeups, _fromLower, _fromEndpoints, _wireRefused, _wireErrors, _truncated, _overflows, _receiveErrors, _internalErrors })
            s.Sweep();
        foreach (var g in new[] { _forwarding, _broadcastDepth, _reassemblyDatagrams, _reassemblyBytes }) g.Sweep();
        _framesPerWakeup.Sweep();
    }
}
