// Builds the LinkView that `mvtap link show` prints from an endpoint, its port and its lower's health.
using Mvtap.Control;
using Mvtap.Core.Model;
using Mvtap.Daemon.Lowers;
using Mvtap.VhostUser.Memory;

namespace Mvtap.Daemon.Links;

internal static class LinkViews
{
    public static LinkView Build(EndpointRecord record, string runDir)
    {
        var ep = record.Endpoint;
        var port = record.Lower.Port;
        var c = ep.Counters;
        var health = record.Lower.Health;
        // nothing moves while the lower is away or its thread restarts: no carrier, as ip would say
        bool carrier = ep.IsUp && ep.HasCarrier && health.Forwarding;
        string? vhost = null, stream = null;
        (bool Connected, string? Problem) dial = (false, null);
        if (record.Kind == EndpointKind.Macvtap && record.TapName is null)
        {
            // attachment points exist only once mvtapd has created them; a socket it dials is configuration
            var v = record.VhostUserPath ?? ControlPaths.VhostUserPath(runDir, record.Index);
            var s = ControlPaths.StreamPath(runDir, record.Index);
            vhost = record.VhostUserConnect || File.Exists(v) ? v : null;
            stream = File.Exists(s) ? s : null;
            if (record.VhostUserConnect) dial = record.Lower.VhostUserDialState(ep);
        }
        return new LinkView
        {
            Index = record.Index,
            Name = ep.Name,
            Type = record.TypeName,
            Lower = record.Lower.Name,
            Mac = ep.Mac.ToString(),
            Mode = ep.Mode.Name(),
            Flags = ep.Flags.Names(),
            AdminUp = ep.IsUp,
            OperState = !ep.IsUp ? "DOWN" : carrier ? "UP" : "LOWERLAYERDOWN",
            Carrier = carrier,
            Mtu = ep.Mtu,
            MaxMtu = port.Lower.MaxMtu,
            TxQueueLen = record.TxQueueLen,
            BcQueueLen = ep.BcQueueLenRequest,
            UsedBcQueueLen = port.BcQueueLenUsed,
            BcCutoff = port.BcCutoff,
            Macaddrs = [.. ep.SourceList.Select(m => m.ToString())],
            SpoofCheck = ep.SpoofCheck,
            Owner = record.Owner,
            Group = record.Group,
            Netns = record.Netns,
            Interface = record.Lower.InterfaceName(ep),
            GuestMemory = record.Kind == EndpointKind.Macvtap ? record.GuestMemory.Name() : null,
            LowerState = health.State,
            LowerReason = health.Reason,
            LowerNetns = health.Netns,
            DatapathState = health.DatapathState,
            DatapathReason = health.DatapathReason,
            DatapathRestarts = health.DatapathRestarts,
            VhostUserPath = vhost,
            VhostUserQueuePairs = vhost is null ? 0 : Datapath.MacvtapAttachmentPoints.QueuePairs,
            VhostUserMode = record.Kind != EndpointKind.Macvtap || record.TapName is not null ? null : record.VhostUserConnect ? VhostUserModes.Connect : VhostUserModes.Listen,
            VhostUserConnected = dial.Connected,
            VhostUserProblem = dial.Problem,
            StreamPath = stream,
            Cni = record.Cni,
            HostAccess = ep.HostAccess || ep.IsHostPort,
            Tap = record.TapName,
            TapState = record.TapName is null ? null : record.Lower.TapState(ep) ?? "gone",
            Statistics = new LinkStatistics
            {
                RxBytes = (ulong)c.RxBytes,
                RxPackets = (ulong)c.RxPackets,
                RxErrors = (ulong)c.RxErrors,
                RxDropped = (ulong)c.RxDropped,
                RxMulticast = (ulong)c.RxMulticast,
                TxBytes = (ulong)c.TxBytes,
                TxPackets = (ulong)c.TxPackets,
                TxDropped = (ulong)c.TxDropped,
                DropsByReason = c.NonZeroDrops().ToDictionary(kv => kv.Key, kv => (ulong)kv.Value),
                LowerDropsByReason = port.Counters.NonZeroDrops().ToDictionary(kv => kv.Key, kv => (ulong)kv.Value),
                LowerRxPackets = (ulong)Volatile.Read(ref port.Counters.RxPackets),
                LowerTxPackets = (ulong)Volatile.Read(ref port.Counters.TxPackets),
            },
        };
    }
}
