// Deliberate mistakes the forwarding core can be told to make, one rule at a time, so that a
// differential test can prove it notices a wrong rule (a harness that agrees with a broken
// switch proves nothing). Set per port through Port.Fault, which only test assemblies see;
// nothing in the product sets it, and None (the default) changes nothing.
namespace Mvtap.Core.Forwarding;

internal enum ForwardingFault
{
    None,
    /// <summary>Reflected multicast from a bridge endpoint also floods the other bridge endpoints
    /// (the kernel: vepa endpoints only, spec 3.4, since bridge endpoints got it on transmit).</summary>
    BridgeReflectionReachesBridges,
    /// <summary>Vepa unicast to another up vepa endpoint is delivered inside the host, as bridge
    /// mode's is (the kernel: only bridge to bridge short-circuits, spec 2).</summary>
    VepaShortCircuits,
}
