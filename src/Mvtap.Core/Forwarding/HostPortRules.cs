// The host port's forwarding rules (design.md, issue 14): the host port is the host, not a
// tenant. Frames between it and an endpoint with hostaccess on are delivered locally whatever
// that endpoint's mode, both ways; its broadcasts and multicast reach every such endpoint and
// the wire, and theirs reach it. To an endpoint with hostaccess off the host port is an ordinary
// bridge-mode endpoint, so the kernel's rules (Forwarder) decide. The Forwarder asks these rules
// only while the port has an up host port, so nothing changes for a port without one.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;

namespace Mvtap.Core.Forwarding;

internal static class HostPortRules
{
    /// <summary>is_skb_forwardable's slack, as on the bridge-local path (spec 4.3).</summary>
    private const int MtuSlack = EthernetFrame.HeaderLength + EthernetFrame.VlanTagLength;

    /// <summary>A frame <paramref name="src"/> transmits, counted already: delivers what the
    /// host-port rules deliver locally. True when the frame is fully handled; false when the
    /// kernel's rules go on with it (a multicast after its local copy, or anything else).</summary>
    public static bool Transmit<TSink>(ForwardingTable table, EndpointSnapshot host, EndpointSnapshot src, in VnetFrame packet, ref TSink sink)
        where TSink : IDeliverySink
    {
        var dst = packet.Destination;
        if (src == host)
        {
            if (dst.IsMulticast)
            {
                FloodFromHost(table, host, packet, ref sink);
                table.Port.Counters.CountTx(packet.Length);
                sink.ToWire(packet);
                return true;
            }
            if (table.ByMac.Find(dst) is not { HostAccess: true } target) return false;
            DeliverLocally(table, target, packet, DeliveryKind.Host, ref sink);
            return true;
        }
        if (!src.HostAccess) return false;
        if (!dst.IsMulticast)
        {
            if (dst != host.Mac) return false;
            DeliverLocally(table, host, packet, DeliveryKind.Host, ref sink);
            return true;
        }
        // a bridge endpoint's local flood reaches the host port already (its mode is bridge)
        if (src.Mode != EndpointMode.Bridge && packet.EtherType != EthernetFrame.EtherTypePause && host.AcceptsGroup(dst))
            DeliverLocally(table, host, packet, dst.IsBroadcast ? DeliveryKind.Broadcast : DeliveryKind.Multicast, ref sink);
        return false;
    }

    /// <summary>Whether <paramref name="receiver"/> got <paramref name="sender"/>'s multicast locally
    /// already, so that the switch's reflection of it must not deliver it a second time.</summary>
    public static bool GotLocalCopy(EndpointSnapshot sender, EndpointSnapshot receiver) =>
        (sender.IsHostPort && receiver.HostAccess) || (receiver.IsHostPort && sender.HostAccess);

    // The host port's multicast: every up endpoint with hostaccess on that wants the group, and,
    // as the bridge rules give them, the bridge endpoints with hostaccess off. PAUSE never floods.
    private static void FloodFromHost<TSink>(ForwardingTable table, EndpointSnapshot host, in VnetFrame packet, ref TSink sink)
        where TSink : IDeliverySink
    {
        if (packet.EtherType == EthernetFrame.EtherTypePause) return;
        var dst = packet.Destination;
        var kind = dst.IsBroadcast ? DeliveryKind.Broadcast : DeliveryKind.Multicast;
        foreach (var ep in table.UpEndpoints)
        {
            if (ep == host || !(ep.HostAccess || ep.Mode == EndpointMode.Bridge) || !ep.AcceptsGroup(dst)) continue;
            if (!packet.Vnet.IsGso && packet.Length > ep.Mtu + MtuSlack)
            {
                ep.Counters.CountRxDrop(DropReason.Mtu);
                continue;
            }
            ep.Counters.CountRx(packet.Length, true);
            sink.ToEndpoint(ep, packet, kind);
        }
    }

    // A local unicast or a single multicast copy, checked against the receiver's MTU.
    private static void DeliverLocally<TSink>(ForwardingTable table, EndpointSnapshot to, in VnetFrame packet, DeliveryKind kind, ref TSink sink)
        where TSink : IDeliverySink
    {
        if (!packet.Vnet.IsGso && packet.Length > Math.Min(to.Mtu, table.LowerMtu) + MtuSlack)
        {
            to.Counters.CountRxDrop(DropReason.Mtu);
            return;
        }
        to.Counters.CountRx(packet.Length, kind is DeliveryKind.Broadcast or DeliveryKind.Multicast);
        sink.ToEndpoint(to, packet, kind);
    }
}
