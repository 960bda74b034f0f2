// What mvtapd persists in <state-dir>/state.json: every endpoint with what it was created
// and changed with, so a restart brings each back with the same name, index, MAC, mode and
// flags. Strings on disk (modes, MACs) keep the file readable and diffable.
using System.Text.Json.Serialization;

namespace Mvtap.Daemon.State;

public sealed record DaemonState
{
    public const int CurrentVersion = 1;

    public int Version { get; init; } = CurrentVersion;
    /// <summary>The next endpoint index; indexes are never reused, like ifindexes.</summary>
    public int NextIndex { get; init; } = 1;
    public List<EndpointState> Endpoints { get; init; } = [];
}

public sealed record EndpointState
{
    public int Index { get; init; }
    public string Name { get; init; } = "";
    public string Type { get; init; } = "macvtap";
    public string Lower { get; init; } = "";
    public string Mac { get; init; } = "";
    public string Mode { get; init; } = "vepa";
    public List<string> Flags { get; init; } = [];
    public bool Up { get; init; }
    public int Mtu { get; init; }
    public uint TxQueueLen { get; init; } = 500;
    public uint BcQueueLen { get; init; } = 1000;
    public int BcCutoff { get; init; } = 1;
    public List<string> Macaddrs { get; init; } = [];
    public bool SpoofCheck { get; init; } = true;
    public string? Owner { get; init; }
    public string? Group { get; init; }
    public string? Netns { get; init; }
    public string? VhostUserPath { get; init; }
    /// <summary>The CNI attachment that made the endpoint (container id, ifname, network).</summary>
    public Mvtap.Control.CniAttachment? Cni { get; init; }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(DaemonState))]
internal sealed partial class StateJsonContext : JsonSerializerContext;
