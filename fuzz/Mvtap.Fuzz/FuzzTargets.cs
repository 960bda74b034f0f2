// Every fuzz target by name: one decoder of outside input each (the list fuzz/run.sh --list
// prints and fuzz/corpus/NAME/ holds seeds for). A target's Run takes one input and throws only
// for a bug: what a decoder documents as bad input is caught inside the target.
using Mvtap.Fuzz.Targets;

namespace Mvtap.Fuzz;

public delegate void FuzzEntry(ReadOnlySpan<byte> input);

/// <param name="Instrument">The assemblies whose code the target exercises: fuzz/run.sh instruments
/// these (file names in the build output) so AFL sees their branches.</param>
public sealed record FuzzTarget(string Name, string What, FuzzEntry Run, params string[] Instrument);

public static class FuzzTargets
{
    private const string Core = "Mvtap.Core.dll", Linux = "Mvtap.Linux.dll", VhostUser = "Mvtap.VhostUser.dll",
        Control = "Mvtap.Control.dll", Daemon = "mvtapd.dll";

    public static readonly FuzzTarget[] All =
    [
        new("forwarder", "frames into the forwarder from the wire and from endpoints, with and without a virtio-net header", ForwarderTarget.Run, Core),
        new("vnet-gso", "the virtio-net header checks and the GSO segmenter", VnetGsoTarget.Run, Core, VhostUser),
        new("reassembly", "IPv4 multicast reassembly, several fragments per input", ReassemblyTarget.Run, Core),
        new("vhost-user-messages", "vhost-user requests through the validator and the net backend's session", VhostUserMessagesTarget.Run, VhostUser),
        new("virtqueue-chains", "descriptor chains in guest memory through the backend's transmit and receive", VirtqueueChainsTarget.Run, VhostUser),
        new("stream-framing", "QEMU -netdev stream framing (4-byte big-endian length) into a stream attachment", StreamFramingTarget.Run, Linux),
        new("control-requests", "control socket framing and JSON, then the daemon's request handling on a sim lower", ControlRequestsTarget.Run, Control, Daemon, Core),
        new("state-file", "state.json through the StateStore's loader and restore on a sim lower", StateFileTarget.Run, Daemon, Core),
        new("netlink-replies", "rtnetlink replies and notifications: message walk, attributes, link info, macvlan data, link/group notifications, netns ids", NetlinkRepliesTarget.Run, Linux),
        new("dev-mcast", "/proc/net/dev_mcast lines", DevMcastTarget.Run, Linux),
    ];

    public static FuzzTarget? Find(string name) => Array.Find(All, t => t.Name == name);
}
