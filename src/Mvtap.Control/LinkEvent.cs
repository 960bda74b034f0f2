// One change `mvtap monitor` reports, as mvtapd sends it after a MonitorRequest: what happened
// (Kind), a few words on it (Detail: the new MAC, mode, namespace, name, interface name, lower
// state, the reason), and
// the endpoint as it is now (as `link show` reports it; as it was last, for "deleted"). Kind "lost"
// says the daemon dropped Lost events for this client because it read too slowly.
namespace Mvtap.Control;

public sealed record LinkEvent
{
    public const string Added = "added", Deleted = "deleted", Up = "up", Down = "down",
        Carrier = "carrier", NoCarrier = "no-carrier", Address = "address", Mode = "mode", Netns = "netns",
        Name = "name", Interface = "interface", Lower = "lower", Datapath = "datapath", Lost = "lost";

    public string Kind { get; set; } = "";
    public string? Detail { get; set; }
    public LinkView? Link { get; set; }
    /// <summary>For "lost": how many events were dropped.</summary>
    public long LostCount { get; set; }
}
