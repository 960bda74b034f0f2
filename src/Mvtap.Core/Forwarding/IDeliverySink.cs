// Where the forwarding core sends its decisions: the adapter (the sim, the AF_PACKET
// datapath) implements this and moves the frame. The core calls it once per copy.
using Mvtap.Core.Frames;

namespace Mvtap.Core.Forwarding;

/// <summary>The kernel's skb->pkt_type for a frame handed to an endpoint.</summary>
public enum DeliveryKind : byte
{
    Host,
    Broadcast,
    Multicast,
    OtherHost,
}

public interface IDeliverySink
{
    /// <summary>Give the frame to an endpoint (its queue, ring or interface).</summary>
    void ToEndpoint(EndpointSnapshot endpoint, in VnetFrame packet, DeliveryKind kind);

    /// <summary>Transmit the frame out of the lower device, to the external switch.</summary>
    void ToWire(in VnetFrame packet);

    /// <summary>RX_HANDLER_PASS: the lower's own host stack receives the frame.</summary>
    void ToLowerStack(in VnetFrame packet);
}
