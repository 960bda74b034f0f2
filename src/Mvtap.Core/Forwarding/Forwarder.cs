// The forwarding rules of the kernel's macvlan driver (spec 2 and 3): for a frame sent by an
// endpoint and for a frame received from the lower, exactly which endpoints get a copy,
// whether it goes to the wire and whether the lower's own stack gets it. No system calls,
// no allocation: decisions go straight to the sink. A test may make a port get one rule wrong
// on purpose (Port.Fault, ForwardingFault) to prove its differential harness notices. A port
// with an up host port adds the rules of HostPortRules first.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;

namespace Mvtap.Core.Forwarding;

public static class Forwarder
{
    // spec 3.2 MulticastRx masks
    private const EndpointMode FromExternal = EndpointMode.Private | EndpointMode.Vepa | EndpointMode.Passthru | EndpointMode.Bridge;
    private const EndpointMode FromVepa = EndpointMode.Vepa | EndpointMode.Bridge;
    private const EndpointMode FromBridge = EndpointMode.Vepa;

    /// <summary>is_skb_forwardable: MTU + Ethernet header + one VLAN tag (spec 4.3).</summary>
    private const int MtuSlack = EthernetFrame.HeaderLength + EthernetFrame.VlanTagLength;

    /// <summary>A frame transmitted by <paramref name="source"/> (spec 2, macvlan_queue_xmit).</summary>
    public static void Transmit<TSink>(ForwardingTable table, Endpoint source, in VnetFrame packet, ref TSink sink)
        where TSink : IDeliverySink
    {
        var counters = source.Counters;
        var src = table.Find(source);
        if (src is null) { counters.CountTxDrop(DropReason.EndpointGone); return; }
        if (packet.Length < EthernetFrame.HeaderLength) { counters.CountTxDrop(DropReason.Malformed); return; }
        if (!packet.Vnet.IsValidFor(packet.Frame)) { counters.CountTxDrop(DropReason.BadVirtioHeader); return; }
        if (!src.IsUp) { counters.CountTxDrop(DropReason.EndpointDown); return; }
        // spec 2: without carrier the core drops the endpoint's TX, bridge-local copies included
        if (!table.LowerOperational) { counters.CountTxDrop(DropReason.NoCarrier); return; }
        // design.md spoofchk; the kernel never looks at the source MAC (spec 5.11)
        if (src.SpoofCheck && packet.Source != src.Mac) { counters.CountTxDrop(DropReason.SpoofedSource); return; }

        counters.CountTx(packet.Length);
        if (table.HostPort is { } host && HostPortRules.Transmit(table, host, src, packet, ref sink)) return;
        if (src.Mode == EndpointMode.Bridge)
        {
            var dst = packet.Destination;
            if (dst.IsMulticast)
            {
                // spec 2: copies to the other up bridge endpoints, then to the wire as well
                Flood(table, packet, exclude: src, EndpointMode.Bridge, local: true, ref sink);
            }
            else if (table.ByMac.Find(dst) is { Mode: EndpointMode.Bridge })
            {
                // spec 2: only bridge-to-bridge short-circuits, through the lower's receive
                // path (dev_forward_skb): lower MTU applies, source lists are consulted
                if (!packet.Vnet.IsGso && packet.Length > table.LowerMtu + MtuSlack)
                {
                    table.Port.Counters.CountDrop(DropReason.Mtu);
                    return;
                }
                HandleFrame(table, packet, ref sink);
                return;
            }
        }
        else if (table.Port.Fault == ForwardingFault.VepaShortCircuits && src.Mode == EndpointMode.Vepa
                 && !packet.Destination.IsMulticast && table.ByMac.Find(packet.Destination) is { Mode: EndpointMode.Vepa })
        {
            HandleFrame(table, packet, ref sink);
            return;
        }
        table.Port.Counters.CountTx(packet.Length);
        sink.ToWire(packet);
    }

    /// <summary>A frame received from the lower (spec 3, macvlan_handle_frame). Broadcast and,
    /// as the port filters decide, multicast may be queued: run <see cref="ProcessBroadcasts"/>
    /// after the batch.</summary>
    public static void Receive<TSink>(ForwardingTable table, in VnetFrame packet, ref TSink sink)
        where TSink : IDeliverySink
    {
        var port = table.Port;
        if (packet.Length < EthernetFrame.HeaderLength) { port.Counters.CountDrop(DropReason.Malformed); return; }
        port.Counters.CountRx(packet.Length, packet.Destination.IsMulticast);
        HandleFrame(table, packet, ref sink);
    }

    /// <summary>macvlan_handle_frame, for frames from the wire and for bridge-local unicast that
    /// re-enters the lower's receive path (which the lower's counters do not see).</summary>
    private static void HandleFrame<TSink>(ForwardingTable table, in VnetFrame packet, ref TSink sink)
        where TSink : IDeliverySink
    {
        var port = table.Port;
        if (packet.Destination.IsMulticast)
        {
            // spec 3.8: multicast fragments are held until the datagram is whole (drops are
            // counted on the port by the defragmenter)
            var result = port.Defragmenter.Add(packet.Frame, out var whole);
            if (result == Ipv4Defragmenter.Result.NotFragment) HandleMulticast(table, packet, ref sink);
            else if (result == Ipv4Defragmenter.Result.Complete) HandleMulticast(table, new VnetFrame(whole), ref sink);
            return;
        }

        if (ForwardSource(table, packet, ref sink)) return;
        var ep = table.Passthru ?? table.ByMac.Find(packet.Destination);
        if (ep is null || ep.Mode == EndpointMode.Source)
        {
            // spec 3.3: unknown, the lower's own, a down endpoint's, or a source endpoint's MAC
            sink.ToLowerStack(packet);
            return;
        }
        if (!ep.IsUp)
        {
            // only a passthru endpoint is found while down (spec 3.2): dropped, not passed
            port.Counters.CountDrop(DropReason.PassthruDown);
            return;
        }
        Deliver(ep, packet, DeliveryKind.Host, ref sink);
    }

    /// <summary>Multicast and broadcast from the wire (spec 3.2, 3.4).</summary>
    private static void HandleMulticast<TSink>(ForwardingTable table, in VnetFrame packet, ref TSink sink)
        where TSink : IDeliverySink
    {
        var port = table.Port;
        var dst = packet.Destination;
        if (ForwardSource(table, packet, ref sink)) return;
        var src = table.ByMac.Find(packet.Source);
        if (src is not null && src.Mode is not (EndpointMode.Vepa or EndpointMode.Bridge))
        {
            // spec 3.4: reflected multicast from a private, passthru or source endpoint
            // returns only to it ("forward to original port"); the lower does not get it
            Deliver(src, packet, KindOf(dst), ref sink);
            return;
        }
        if (table.IsQueued(dst))
        {
            if (!port.BroadcastQueue.TryEnqueue(packet, src?.Endpoint, table.BcQueueLenUsed))
                port.Counters.CountDrop(DropReason.BroadcastQueueFull);
        }
        else if (table.IsWanted(dst))
        {
            MulticastReceive(table, src, packet, ref sink);
        }
        sink.ToLowerStack(packet);
    }

    /// <summary>One run of the broadcast work (spec 3.6): fans out the queued frames, with the
    /// receivers and the source's mode as they are now.</summary>
    public static int ProcessBroadcasts<TSink>(ForwardingTable table, ref TSink sink) where TSink : IDeliverySink
    {
        var processor = new QueuedBroadcast<TSink>(table, sink);
        int n = table.Port.BroadcastQueue.Drain(ref processor);
        sink = processor.Sink;
        return n;
    }

    /// <summary>Fans out one frame taken from the broadcast queue (what <see cref="ProcessBroadcasts"/>
    /// does for each), for a caller that drains the queue itself with its own processor.</summary>
    public static void ProcessQueued<TSink>(ForwardingTable table, in VnetFrame packet, Endpoint? source, ref TSink sink)
        where TSink : IDeliverySink
    {
        // The kernel holds a reference to the source and uses its mode at processing time;
        // a source deleted meanwhile is treated as external.
        var src = source is null ? null : table.Find(source);
        MulticastReceive(table, src, packet, ref sink);
    }

    private struct QueuedBroadcast<TSink>(ForwardingTable table, TSink sink) : IBroadcastProcessor where TSink : IDeliverySink
    {
        public TSink Sink = sink;

        public void Process(in VnetFrame packet, Endpoint? source) => ProcessQueued(table, packet, source, ref Sink);
    }

    /// <summary>macvlan_multicast_rx: who gets a multicast, by the mode of its source.</summary>
    private static void MulticastReceive<TSink>(ForwardingTable table, EndpointSnapshot? src, in VnetFrame packet, ref TSink sink)
        where TSink : IDeliverySink
    {
        if (src is null) Flood(table, packet, null, FromExternal, local: false, ref sink);
        else if (src.Mode == EndpointMode.Vepa) Flood(table, packet, src, FromVepa, local: false, ref sink);
        else if (table.Port.Fault == ForwardingFault.BridgeReflectionReachesBridges) Flood(table, packet, src, FromVepa, local: false, ref sink);
        else Flood(table, packet, src, FromBridge, local: false, ref sink);
    }

    /// <summary>macvlan_broadcast: one copy to each up endpoint in the mode mask that passes
    /// its multicast filter, except <paramref name="exclude"/>; PAUSE is never flooded. PAUSE by
    /// skb->protocol: on receive the ethertype behind a VLAN tag (the kernel untags before macvlan
    /// sees the frame), on an endpoint's transmit (local) the outer one, as a raw sender's skb has it.</summary>
    private static void Flood<TSink>(ForwardingTable table, in VnetFrame packet, EndpointSnapshot? exclude, EndpointMode mask, bool local, ref TSink sink)
        where TSink : IDeliverySink
    {
        ushort protocol = local ? packet.EtherType : EthernetFrame.ReceivedProtocol(packet.Frame);
        if (protocol == EthernetFrame.EtherTypePause) return;
        var dst = packet.Destination;
        var kind = KindOf(dst);
        foreach (var ep in table.UpEndpoints)
        {
            if (ep == exclude || (ep.Mode & mask) == 0 || !ep.AcceptsGroup(dst)) continue;
            // a reflection skips whoever got the frame locally from a host port's rules already
            if (!local && exclude is not null && table.HostPort is not null && HostPortRules.GotLocalCopy(exclude, ep)) continue;
            // spec 2: bridge-local copies are checked against the destination's MTU
            if (local && !packet.Vnet.IsGso && packet.Length > ep.Mtu + MtuSlack)
            {
                ep.Counters.CountRxDrop(DropReason.Mtu);
                continue;
            }
            Deliver(ep, packet, kind, ref sink);
        }
    }

    /// <summary>macvlan_forward_source: a copy to every up source endpoint listing the frame's
    /// source MAC; true if a NODST entry consumes the frame, even a down one (quirk Q4).</summary>
    private static bool ForwardSource<TSink>(ForwardingTable table, in VnetFrame packet, ref TSink sink)
        where TSink : IDeliverySink
    {
        if (table.Sources.Count == 0 || !table.Sources.TryGetValue(packet.Source.Value, out var listing)) return false;
        bool consume = false, delivered = false;
        var dst = packet.Destination;
        foreach (var ep in listing)
        {
            if ((ep.Flags & EndpointFlags.NoDst) != 0) consume = true;
            if (!ep.IsUp) continue;
            // pkt_type HOST only when addressed to it, else what the lower classified (spec 3.5)
            var kind = dst == ep.Mac || dst == table.Port.Lower.Mac ? DeliveryKind.Host
                : dst.IsMulticast ? KindOf(dst) : DeliveryKind.OtherHost;
            Deliver(ep, packet, kind, ref sink);
            delivered = true;
        }
        if (consume && !delivered) table.Port.Counters.CountDrop(DropReason.NoDstConsumed);
        return consume;
    }

    private static void Deliver<TSink>(EndpointSnapshot ep, in VnetFrame packet, DeliveryKind kind, ref TSink sink)
        where TSink : IDeliverySink
    {
        ep.Counters.CountRx(packet.Length, kind is DeliveryKind.Broadcast or DeliveryKind.Multicast);
        sink.ToEndpoint(ep, packet, kind);
    }

    private static DeliveryKind KindOf(MacAddress dst) => dst.IsBroadcast ? DeliveryKind.Broadcast : DeliveryKind.Multicast;
}
