// What an endpoint is assembled from, one record per kind: the core's settings (name, MAC, mode,
// flags) and what the kind needs besides. DatapathSwitch.AddEndpoint builds an endpoint of any kind
// from one of these: a macvlan's veth pair (its interface's name and namespace), a macvtap's
// attachment points (vhost-user, stream, tap relay) once their places are known, a macvtap's
// persistent TAP in a namespace (TapSpec), or the host port's veth pair in the switch's own namespace.
using Mvtap.Core.Model;

namespace Mvtap.Datapath;

public abstract record EndpointSpec(EndpointSettings Settings);

/// <summary>A `macvlan` endpoint: a veth pair whose inner end <paramref name="InterfaceName"/> is made in
/// <paramref name="Netns"/> (null: the switch's namespace). <paramref name="Up"/>: set up once frames can
/// flow; <paramref name="Adopt"/>: take over a pair a previous run left (MacvlanAttachment.Adopt).</summary>
public sealed record MacvlanSpec(EndpointSettings Settings, string? Netns, string InterfaceName, bool Up = true, bool Adopt = false)
    : EndpointSpec(Settings);

/// <summary>A `macvtap` endpoint; with <paramref name="Places"/> its attachment points are opened at once
/// (their events' lines to <paramref name="Log"/>), without them later (DatapathSwitch.OpenAttachmentPoints).</summary>
public sealed record MacvtapSpec(EndpointSettings Settings, MacvtapPlaces? Places = null, Action<string>? Log = null)
    : EndpointSpec(Settings);

/// <summary>A `host` endpoint, the lower's host port: a veth pair whose named end <paramref name="InterfaceName"/>
/// stays in the switch's own namespace (the host's), carried like a macvlan's; <paramref name="Adopt"/> as there.</summary>
public sealed record HostPortSpec(EndpointSettings Settings, string InterfaceName, bool Adopt = true)
    : EndpointSpec(Settings);
/// <summary>A `macvtap` endpoint carried by a persistent TAP <paramref name="TapName"/> made in <paramref name="Netns"/>
/// (null: the switch's namespace), owned by <paramref name="Uid"/>/<paramref name="Gid"/> (-1: anyone), whose queue
/// QEMU opens by name; with <paramref name="Adopt"/> a TAP of that name a previous run left is taken over.</summary>
public sealed record TapSpec(EndpointSettings Settings, string? Netns, string TapName, int Uid, int Gid, bool Adopt = false,
    Action<string>? Log = null) : EndpointSpec(Settings);
