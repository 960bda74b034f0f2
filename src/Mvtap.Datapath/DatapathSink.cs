// The forwarding core's IDeliverySink for the AF_PACKET datapath: each decision becomes a copy
// (vnet header + frame) appended to a preallocated transmit batch, one per destination socket,
// flushed with one sendmmsg each at the end of the wake-up. A struct so the generic Forwarder
// calls are specialised and nothing is boxed per frame.
using Mvtap.Core.Forwarding;
using Mvtap.Core.Frames;

namespace Mvtap.Datapath;

internal readonly struct DatapathSink(LowerDatapath datapath) : IDeliverySink
{
    public void ToEndpoint(EndpointSnapshot endpoint, in VnetFrame packet, DeliveryKind kind) =>
        // The kind (pkt_type) needs no carrying: the inner veth end classifies the frame itself
        // with eth_type_trans against its own MAC, as the kernel's macvlan device would.
        datapath.QueueToEndpoint(endpoint, packet);

    public void ToWire(in VnetFrame packet) => datapath.QueueToWire(packet);

    // RX_HANDLER_PASS. AF_PACKET is a tap, not an rx_handler: the lower's own stack received
    // this frame from the kernel already, whatever we decide. So there is nothing to do but count.
    // (The difference from the kernel: the lower's stack also sees frames the core CONSUMED.)
    // A test may watch each decision (LowerDatapath.PassedToLowerStack).
    public void ToLowerStack(in VnetFrame packet)
    {
        datapath.Stats.lowerStackPassed++;
        datapath.PassedToLowerStack?.Invoke(packet.Frame);
    }
}
