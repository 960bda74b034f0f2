// mvtapd's settings: where the control socket and attachment points live, where the state is
// kept, which group may use the control socket, which namespace holds the lower devices, and
// what becomes of the endpoints of a lower that is deleted. (What guest memory vhost-user maps is
// each macvtap endpoint's own `guestmem` setting.) And where, if anywhere, the Prometheus metrics are served.
namespace Mvtap.Daemon;

public sealed record DaemonOptions
{
    public const string DefaultStateDir = "/var/lib/mvtap";

    public required string RunDir { get; init; }
    public string StateDir { get; init; } = DefaultStateDir;
    /// <summary>Group (name or number) that may use the control socket; null = root only.</summary>
    public string? SocketGroup { get; init; }
    /// <summary>The named network namespace the lower devices live in; null = mvtapd's own.</summary>
    public string? Netns { get; init; }
    /// <summary>What happens to the endpoints of a lower that is deleted: kept, without carrier,
    /// until an interface of its name appears (default; a deliberate difference), or deleted as the
    /// kernel deletes a lower's macvlans.</summary>
    public Mvtap.Datapath.LowerGonePolicy LowerGone { get; init; }
    /// <summary>Where `--metrics` serves the Prometheus text format; null = not served (the default).</summary>
    public System.Net.IPEndPoint? Metrics { get; init; }
}
