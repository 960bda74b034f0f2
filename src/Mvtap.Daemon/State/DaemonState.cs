// What mvtapd persists in <state-dir>/state.json: every endpoint with what it was created
// and changed with, so a restart brings each back with the same name, index, MAC, mode and
// flags. Strings on disk (modes, MACs) keep the file readable and diffable. Setters, not init:
// the source-generated reader then leaves a property missing from the file at its default here
// (with init it would be null or 0: spoof_check false, endpoints null).
using System.Text.Json.Serialization;

namespace Mvtap.Daemon.State;

public sealed record DaemonState
{
    public const int CurrentVersion = 1;

    public int Version { get; set; } = CurrentVersion;
    /// <summary>The next endpoint index; indexes are never reused, like ifindexes.</summary>
    public int NextIndex { get; set; } = 1;
    public List<EndpointState> Endpoints { get; set; } = [];
}

public sealed record EndpointState
{
    public int Index { get; set; }
    public string Name { get; set; } = "";
    public string Type { get; set; } = "macvtap";
    public string Lower { get; set; } = "";
    public string Mac { get; set; } = "";
    public string Mode { get; set; } = "vepa";
    public List<string> Flags { get; set; } = [];
    public bool Up { get; set; }
    public int Mtu { get; set; }
    public uint TxQueueLen { get; set; } = 500;
    public uint BcQueueLen { get; set; } = 1000;
    public int BcCutoff { get; set; } = 1;
    public List<string> Macaddrs { get; set; } = [];
    public bool SpoofCheck { get; set; } = true;
    public string? Owner { get; set; }
    public string? Group { get; set; }
    public string? Netns { get; set; }
    /// <summary>A macvtap's `guestmem` ("sealed" or "any"); absent = sealed.</summary>
    public string? GuestMemory { get; set; }
    public string? VhostUserPath { get; set; }
    /// <summary>The CNI attachment that made the endpoint (container id, ifname, network).</summary>
    public Mvtap.Control.CniAttachment? Cni { get; set; }
    /// <summary>A macvtap's vhost-user role: "connect" (mvtapd dials vhost_user_path); absent = listen.</summary>
    public string? VhostUserMode { get; set; }
    /// <summary>With "connect": whether a frontend running as root is served too (root asked for it).</summary>
    public bool? VhostUserRootPeer { get; set; }
    /// <summary>`hostaccess`; absent = on.</summary>
    public bool HostAccess { get; set; } = true;
    /// <summary>The persistent TAP (in Netns) that carries a macvtap endpoint; adopted again on restore.</summary>
    public string? TapName { get; set; }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    RespectNullableAnnotations = true)] // a null where the type says none is a corrupt file, not a crash at restore
[JsonSerializable(typeof(DaemonState))]
internal sealed partial class StateJsonContext : JsonSerializerContext;
