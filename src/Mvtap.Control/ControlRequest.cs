// The requests mvtap sends to mvtapd over the control socket. One JSON object per frame; the
// "op" property says which request it is (System.Text.Json polymorphism, source generated).
// Any client of the socket may send them, so a field may be missing or JSON null: setters, not
// init (the source-generated reader then leaves a missing field at its default, as for
// DaemonState, where init lost it), and a required string takes null as not given (""), which
// mvtapd refuses in ip's words ("Not enough information: "dev" argument is required"). Null
// means "not given" for every other field too.
using System.Text.Json.Serialization;

namespace Mvtap.Control;

[JsonPolymorphic(TypeDiscriminatorPropertyName = "op")]
[JsonDerivedType(typeof(LinkAddRequest), "link-add")]
[JsonDerivedType(typeof(LinkSetRequest), "link-set")]
[JsonDerivedType(typeof(LinkDelRequest), "link-del")]
[JsonDerivedType(typeof(LinkShowRequest), "link-show")]
[JsonDerivedType(typeof(TapFdRequest), "tap-fd")]
[JsonDerivedType(typeof(MonitorRequest), "monitor")]
[JsonDerivedType(typeof(CaptureRequest), "capture")]
public abstract record ControlRequest
{
    /// <summary>ip's words for a required argument left out (`ip link del` without a device), also
    /// what mvtapd answers to a request whose required field is missing or null. No final period.</summary>
    public static string NotGiven(string keyword) => $"Not enough information: \"{keyword}\" argument is required";
}

/// <summary>`link add`: create an endpoint. Null means "not given" (the daemon applies the kernel's default).</summary>
public sealed record LinkAddRequest : ControlRequest
{
    /// <summary>The lower device (`link LOWER`). Required.</summary>
    public string Lower { get; set => field = value ?? ""; } = "";
    /// <summary>The endpoint's name; null lets the daemon choose (macvtapN / macvlanN, as the kernel does).</summary>
    public string? Name { get; set; }
    /// <summary>"macvtap", "macvlan" or "host" (the lower's host port).</summary>
    public string Type { get; set => field = value ?? ""; } = "";
    /// <summary>"private", "vepa", "bridge", "passthru" or "source"; null = vepa.</summary>
    public string? Mode { get; set; }
    /// <summary>"nopromisc" and/or "nodst" (IFLA_MACVLAN_FLAGS); null = none given.</summary>
    public List<string>? Flags { get; set; }
    /// <summary>MAC as "1a:46:0b:ca:bc:7b"; null = random locally administered.</summary>
    public string? Address { get; set; }
    public uint? BcQueueLen { get; set; }
    /// <summary>The port's bc_cutoff (ip calls it bclim); negative disables the broadcast queue.</summary>
    public int? BcCutoff { get; set; }
    /// <summary>Source-mode list operation given at creation ("add" or "set"), with its MACs.</summary>
    public string? MacaddrOperation { get; set; }
    public List<string>? Macaddrs { get; set; }
    /// <summary>User and group (names or numbers) that own the attachment points.</summary>
    public string? Owner { get; set; }
    public string? Group { get; set; }
    /// <summary>Drop transmitted frames whose source MAC is not the endpoint's; null = daemon default (on).</summary>
    public bool? SpoofCheck { get; set; }
    public int? Mtu { get; set; }
    public uint? TxQueueLen { get; set; }
    /// <summary>Network namespace (name or PID) to create a macvlan endpoint in.</summary>
    public string? Netns { get; set; }
    /// <summary>Guest memory a macvtap's vhost-user frontend may share (`guestmem`): "sealed" (only
    /// memory sealed against shrinking) or "any"; null = sealed.</summary>
    public string? GuestMemory { get; set; }
    /// <summary>Bring the endpoint up right after creating it (`ip link add ... up`).</summary>
    public bool? Up { get; set; }
    /// <summary>The CNI attachment that makes this endpoint (the CNI plugin sets it). A macvlan endpoint's
    /// interface in <see cref="Netns"/> is then named after its IfName, the container's NIC name.</summary>
    public CniAttachment? Cni { get; set; }
    /// <summary>Where a macvtap endpoint's vhost-user socket is bound instead of &lt;run-dir&gt;/tapN.vhost
    /// (the CNI plugin's socketDir): an absolute path in a directory owned by root and writable by nobody else.</summary>
    public string? VhostUserPath { get; set; }
    /// <summary>A macvtap endpoint carried by a persistent TAP of this name in <see cref="Netns"/>, owned by
    /// Owner/Group, whose queue QEMU opens by name (KubeVirt's tap binding; the CNI plugin's endpoint "tap").</summary>
    public string? TapName { get; set; }
    /// <summary>The vhost-user role (VhostUserModes): "listen" (null: the default) or "connect", where mvtapd
    /// dials <see cref="VhostUserPath"/>, a socket the frontend listens on, and dials again after each drop.</summary>
    public string? VhostUserMode { get; set; }
    /// <summary>`hostaccess on|off`: frames between this endpoint and the lower's host port are delivered
    /// locally whatever its mode (on), or by the kernel's rules as if the host port were a bridge endpoint
    /// (off); null = on.</summary>
    public bool? HostAccess { get; set; }
}

/// <summary>`link set`: change an endpoint. Only non-null fields change.</summary>
public sealed record LinkSetRequest : ControlRequest
{
    public string Name { get; set => field = value ?? ""; } = "";
    /// <summary>Rename (`name NEWNAME`).</summary>
    public string? NewName { get; set; }
    /// <summary>true = up, false = down.</summary>
    public bool? Up { get; set; }
    public string? Address { get; set; }
    public string? Mode { get; set; }
    /// <summary>Replaces the whole flags word, as IFLA_MACVLAN_FLAGS does; an empty list clears it.</summary>
    public List<string>? Flags { get; set; }
    public uint? BcQueueLen { get; set; }
    public int? BcCutoff { get; set; }
    /// <summary>Network namespace (name or PID) to move a macvlan endpoint into.</summary>
    public string? Netns { get; set; }
    /// <summary>"add", "del", "set" or "flush", applied to Macaddrs.</summary>
    public string? MacaddrOperation { get; set; }
    public List<string>? Macaddrs { get; set; }
    public string? Owner { get; set; }
    public string? Group { get; set; }
    public bool? SpoofCheck { get; set; }
    public int? Mtu { get; set; }
    public uint? TxQueueLen { get; set; }
    /// <summary>"sealed" or "any" (see LinkAddRequest.GuestMemory).</summary>
    public string? GuestMemory { get; set; }
    /// <summary>See LinkAddRequest.HostAccess.</summary>
    public bool? HostAccess { get; set; }
}

/// <summary>`link del NAME`.</summary>
public sealed record LinkDelRequest : ControlRequest
{
    public string Name { get; set => field = value ?? ""; } = "";
}

/// <summary>`link show [NAME]`: null Name lists every endpoint. Also what `mvtap qemu` uses.</summary>
public sealed record LinkShowRequest : ControlRequest
{
    public string? Name { get; set; }
}

/// <summary>`mvtap run NAME -- COMMAND`: the daemon creates a kernel TAP for the macvtap endpoint NAME,
/// relays its network side into the datapath, answers like `link show NAME`, and then sends the TAP's
/// queue descriptor in one more byte with SCM_RIGHTS. Refused (EBUSY) while the endpoint has a guest.</summary>
public sealed record TapFdRequest : ControlRequest
{
    public string Name { get; set => field = value ?? ""; } = "";
}

/// <summary>`mvtap monitor`: the daemon answers like any request, then keeps the connection and sends
/// one LinkEvent frame per change of an endpoint until either side closes it. Allowed to whoever
/// may send `link show`.</summary>
public sealed record MonitorRequest : ControlRequest;

/// <summary>`mvtap capture NAME...`: the daemon answers like any request, then streams the frames of the
/// named endpoints or lowers as pcapng (Capture.CaptureStream) until Count frames, the client's stop,
/// or a captured endpoint's deletion. Allowed to whoever may use the control socket.</summary>
public sealed record CaptureRequest : ControlRequest
{
    /// <summary>Endpoints or lowers to capture. Required.</summary>
    public List<string>? Names { get; set; }
    /// <summary>"in" or "out"; null = both.</summary>
    public string? Direction { get; set; }
    /// <summary>Stop after this many frames; null = until stopped.</summary>
    public long? Count { get; set; }
    /// <summary>Bytes kept of each frame, 1 to 262144; null = 262144.</summary>
    public int? Snaplen { get; set; }
}
