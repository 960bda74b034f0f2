// One network configuration as the runtime hands it to the plugin: the reference macvlan
// plugin's keys where they overlap (master, mode, mtu, mac, bcqueuelen, ipam) and mvtap's own
// (endpoint, spoofchk, guestMemory, runDir, socketDir, owner, group, macaddrs). Parsed by
// NetConfParser; the raw bytes go unchanged to the IPAM plugin.
using System.Text.Json;

namespace Mvtap.Cni;

/// <summary>What the attachment gives the container or VM.</summary>
internal enum EndpointType
{
    /// <summary>A macvlan endpoint: the container's NIC named CNI_IFNAME.</summary>
    Macvlan,
    /// <summary>A macvtap endpoint whose vhost-user socket is placed in socketDir.</summary>
    VhostUser,
    /// <summary>A macvtap endpoint carried by a persistent TAP named CNI_IFNAME in the pod (KubeVirt's tap binding).</summary>
    Tap,
}

internal sealed record NetConf
{
    public const string DefaultRunDir = "/run/mvtap";
    public const string DefaultMode = "bridge";

    public required string CniVersion { get; init; }
    public required string Name { get; init; }
    public string Type { get; init; } = "";
    /// <summary>The lower device; null: the interface of the default route, as the reference plugin.</summary>
    public string? Master { get; init; }
    public string Mode { get; init; } = DefaultMode;
    /// <summary>0: the lower's MTU.</summary>
    public int Mtu { get; init; }
    /// <summary>From `mac`, then CNI_ARGS MAC=, then runtimeConfig.mac (the last given wins).</summary>
    public string? Mac { get; init; }
    public uint? BcQueueLen { get; init; }
    /// <summary>Mode source: the MACs whose frames the endpoint receives.</summary>
    public List<string> Macaddrs { get; init; } = [];
    public bool SpoofCheck { get; init; } = true;
    /// <summary>"sealed" or "any" (vhost-user); null: mvtapd's default.</summary>
    public string? GuestMemory { get; init; }
    public string RunDir { get; init; } = DefaultRunDir;
    public EndpointType Endpoint { get; init; } = EndpointType.Macvlan;
    /// <summary>Where a vhost-user endpoint's socket goes; default &lt;runDir&gt;/vhost-user.</summary>
    public string SocketDir { get; init; } = DefaultRunDir + "/vhost-user";
    public string? Owner { get; init; }
    public string? Group { get; init; }
    /// <summary>`ipam.type`; null: no IPAM (layer 2 only).</summary>
    public string? IpamType { get; init; }
    /// <summary>runtimeConfig.CNIDeviceInfoFile (device-info spec 1.1.0, section 5.1).</summary>
    public string? DeviceInfoFile { get; init; }
    /// <summary>The configuration's `dns`, as the reference plugin returns it.</summary>
    public JsonElement? Dns { get; init; }
    /// <summary>The result of the previous plugin (chained ADD, CHECK, DEL).</summary>
    public JsonElement? PrevResult { get; init; }
    /// <summary>GC's cni.dev/valid-attachments; null when absent.</summary>
    public List<(string ContainerId, string IfName)>? ValidAttachments { get; init; }
    /// <summary>The bytes the runtime sent, for delegated plugins.</summary>
    public byte[] Raw { get; init; } = [];

    public string SocketPath => Path.Combine(RunDir, Mvtap.Control.ControlPaths.SocketFileName);
}
