// mvtapd's settings: where the control socket and attachment points live, where the state is
// kept, which group may use the control socket, which namespace holds the lower devices. (What
// guest memory vhost-user maps is each macvtap endpoint's own `guestmem` setting.)
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
}
