// One randomized differential scenario as data: the topology's shape (a reflective relay or not),
// then the steps run in the same order on the kernel's macvlan and on mvtap: commands on the switch
// (link add, netns, up/down, mode, flags, source lists), commands inside an endpoint's container
// (ip -n NS ...), and batches of crafted frames. Each batch carries the state every endpoint is
// expected to be in while its frames pass (what the scenario's commands made of it), which the
// comparison needs to tell the kernel's imperfect multicast filter apart from a real difference.
using System.Collections.Immutable;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;

namespace Mvtap.Conformance.Tests;

internal sealed record Scenario(int Seed, bool Relay, IReadOnlyList<Step> Steps)
{
    public IEnumerable<FrameSpec> Frames => Steps.OfType<FramesStep>().SelectMany(s => s.Frames);
}

internal abstract record Step;

/// <summary>`link add link low0 name NAME [address MAC] type macvlan mode M [nodst]` (null MAC: passthru's, the lower's).</summary>
internal sealed record CreateStep(string Name, EndpointMode Mode, MacAddress? Mac, EndpointFlags Flags) : Step;

/// <summary>`link set NAME netns c-NAME`: into a namespace of its own, through the switch (`mvtap link set`) or,
/// <paramref name="ByRuntime"/>, with `ip link set` in the switch's namespace as a container runtime moves a NIC.</summary>
internal sealed record MoveStep(string Name, bool ByRuntime) : Step;

/// <summary>`link set NAME up|down`, on the switch or inside the container.</summary>
internal sealed record UpDownStep(string Name, bool Up, bool Inside) : Step;

/// <summary>`link set NAME type macvlan mode M` (to or from passthru is refused by both).</summary>
internal sealed record ModeStep(string Name, EndpointMode Mode) : Step;

/// <summary>`link set NAME type macvlan nodst`.</summary>
internal sealed record NoDstStep(string Name) : Step;

/// <summary>`link set NAME type macvlan macaddr add|del|set|flush ...` (refused by both outside source mode).</summary>
internal sealed record SourcesStep(string Name, MacaddrOperation Op, IReadOnlyList<MacAddress> Macs) : Step;

/// <summary>Inside the container, a link-layer join: `ip maddr add GROUP dev NAME`, or <paramref name="BySocket"/> a
/// packet socket's PACKET_ADD_MEMBERSHIP (PACKET_MR_MULTICAST), held for the rest of the scenario.</summary>
internal sealed record JoinStep(string Name, MacAddress Group, bool BySocket = false) : Step;

/// <summary>Inside the container: `ip link set NAME allmulticast on` or `promisc on`, or <paramref name="BySocket"/> a
/// packet socket's PACKET_MR_ALLMULTI or PACKET_MR_PROMISC membership.</summary>
internal sealed record FlagStep(string Name, bool Promisc, bool BySocket = false) : Step;

/// <summary>A batch of frames sent one after the other, then observed until they settle.</summary>
internal sealed record FramesStep(int Batch, IReadOnlyList<FrameSpec> Frames, ImmutableDictionary<string, EndpointState> States) : Step;

/// <summary>One crafted frame: its number (its tag), where it is sent from ("wire", "lower" for the
/// lower's own stack, or an endpoint), its bytes.</summary>
internal sealed record FrameSpec(int Number, string From, byte[] Bytes)
{
    public MacAddress Destination => MacAddress.Read(Bytes);
    public MacAddress Source => MacAddress.Read(Bytes.AsSpan(6));
}

/// <summary>What the scenario's commands made of an endpoint.</summary>
internal sealed record EndpointState(
    EndpointMode Mode, bool Up, EndpointFlags Flags, bool AllMulti, bool Promisc,
    ImmutableHashSet<MacAddress> Groups, ImmutableList<MacAddress> Sources, MacAddress Mac, bool Moved);
