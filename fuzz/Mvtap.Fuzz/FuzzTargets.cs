// Every fuzz target by name: one decoder of outside input each (the list fuzz/run.sh --list
// prints and fuzz/corpus/NAME/ holds seeds for). A target's Run takes one input and throws only
// for a bug: what a decoder documents as bad input is caught inside the target.
using Mvtap.Fuzz.Targets;

namespace Mvtap.Fuzz;

public delegate void FuzzEntry(ReadOnlySpan<byte> input);

public sealed record FuzzTarget(string Name, string What, FuzzEntry Run);

public static class FuzzTargets
{
    public static readonly FuzzTarget[] All =
    [
        new("forwarder", "frames into the forwarder from the wire and from endpoints, with and without a virtio-net header", ForwarderTarget.Run),
        new("vnet-gso", "the virtio-net header checks and the GSO segmenter", VnetGsoTarget.Run),
        new("reassembly", "IPv4 multicast reassembly, several fragments per input", ReassemblyTarget.Run),
        new("vhost-user-messages", "vhost-user requests through the validator and the net backend's session", VhostUserMessagesTarget.Run),
        new("virtqueue-chains", "descriptor chains in guest memory through the backend's transmit and receive", VirtqueueChainsTarget.Run),
        new("stream-framing", "QEMU -netdev stream framing (4-byte big-endian length) into a stream attachment", StreamFramingTarget.Run),
        new("control-requests", "control socket framing and JSON, then the daemon's request handling on a sim lower", ControlRequestsTarget.Run),
        new("state-file", "state.json through the StateStore's loader and restore on a sim lower", StateFileTarget.Run),
        new("netlink-replies", "rtnetlink replies: message walk, attributes, link info, macvlan data", NetlinkRepliesTarget.Run),
        new("dev-mcast", "/proc/net/dev_mcast lines", DevMcastTarget.Run),
    ];

    public static FuzzTarget? Find(string name) => Array.Find(All, t => t.Name == name);
}
