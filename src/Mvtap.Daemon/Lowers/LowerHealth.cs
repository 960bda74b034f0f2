// What `link show -d` says about the lower under an endpoint beyond the port's carrier: where the
// lower is (present, moved and followed, unreachable, gone) and why, and whether its datapath
// thread forwards (running) or is waiting out a restart after a failure, and why.
namespace Mvtap.Daemon.Lowers;

public sealed record LowerHealth
{
    public static readonly LowerHealth Normal = new();

    /// <summary>"present", "moved", "unreachable" or "gone".</summary>
    public string State { get; init; } = "present";
    public string? Reason { get; init; }
    /// <summary>The namespace a moved lower was followed into.</summary>
    public string? Netns { get; init; }
    /// <summary>"running", "restarting" or "stopped"; null for a lower without a datapath thread (sim).</summary>
    public string? DatapathState { get; init; }
    /// <summary>Why it is restarting, or what its last failure was.</summary>
    public string? DatapathReason { get; init; }
    public int DatapathRestarts { get; init; }

    /// <summary>The lower is open, so frames can reach and leave its wire.</summary>
    public bool IsOpen => State is "present" or "moved";

    /// <summary>Frames are forwarded: the lower is open and its datapath thread runs.</summary>
    public bool Forwarding => IsOpen && DatapathState is null or "running";
}
