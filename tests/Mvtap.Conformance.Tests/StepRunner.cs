// Carries one scenario command out on one side and records its outcome. Commands inside a container
// take effect on the kernel's macvlan when `ip` returns; mvtap follows its inner veth end
// asynchronously (InnerLinkMonitor), so on mvtap's side each such command is followed by a bounded
// wait until the port shows it, whose length is recorded. A wait that runs out is noted (the change
// was not followed in time: the run goes on and the frames show what that costs); after an up both sides wait (bounded) until
// the interface is operational, as a veth's transmit queue comes back a moment after its carrier.
using Mvtap.Datapath.Tests.E2e;
using static Mvtap.Conformance.Tests.Addresses;

namespace Mvtap.Conformance.Tests;

internal static class StepRunner
{
    /// <summary>How long mvtap is given to follow a change made inside a container: `DIFFTEST_FOLLOW_MS`,
    /// default 5000. With 0 the frames go out right after `ip` returns, as they may with the kernel.</summary>
    private static readonly TimeSpan FollowBound =
        TimeSpan.FromMilliseconds(int.TryParse(Environment.GetEnvironmentVariable("DIFFTEST_FOLLOW_MS"), out int ms) && ms >= 0 ? ms : 5000);

    public static void Do(DifferentialTopology t, SideRecord record, int index, Step step)
    {
        string? outcome;
        try
        {
            outcome = step switch
            {
                CreateStep c => Run(() => t.Create(c.Name, c.Mode, c.Mac, c.Flags)),
                MoveStep m => Run(() => t.MoveToOwnNamespace(m.Name, m.ByRuntime)),
                UpDownStep u => UpDown(t, record, index, u),
                ModeStep m => t.SetModeOf(m.Name, m.Mode),
                NoDstStep n => t.SetNoDst(n.Name),
                SourcesStep s => t.EditSources(s.Name, s.Op, s.Macs),
                JoinStep j => Followed(t, record, index, j.Name,
                    j.BySocket ? t.SocketMembership(j.Name, j.Group) : t.Inside(j.Name, "maddr", "add", j.Group.ToString(), "dev", j.Name),
                    (_, s) => s.AcceptsGroup(j.Group), $"the join of {j.Group}"),
                FlagStep f => Followed(t, record, index, f.Name,
                    f.BySocket ? t.SocketMembership(f.Name, null, f.Promisc) : t.Inside(f.Name, "link", "set", f.Name, f.Promisc ? "promisc" : "allmulticast", "on"),
                    (ep, s) => (f.Promisc ? ep.Promisc : ep.AllMulti) && s.AcceptsGroup(NeverJoined), f.Promisc ? "promisc on" : "allmulticast on"),
                _ => throw new ArgumentOutOfRangeException(nameof(step), step, "not a command"),
            };
        }
        catch (Exception e) when (e is InvalidOperationException or Linux.Interop.SystemCallException or Linux.Netlink.RtnetlinkException)
        {
            // a command the harness expected to work did not: both sides are compared on it like any refusal
            outcome = "failed: " + e.Message;
        }
        record.StepOutcomes[index] = outcome;
    }

    private static string? Run(Action action)
    {
        action();
        return null;
    }

    private static string? UpDown(DifferentialTopology t, SideRecord record, int index, UpDownStep u)
    {
        string? outcome = u.Inside
            ? Followed(t, record, index, u.Name, t.Inside(u.Name, "link", "set", u.Name, u.Up ? "up" : "down"), (_, s) => s.IsUp == u.Up, u.Up ? "up" : "down")
            : t.SetUpOnSwitch(u.Name, u.Up);
        if (outcome is null && u.Up && !t.AwaitOperational(u.Name)) Note(record, index, $"{u.Name} was not operational within 5 s of up");
        return outcome;
    }

    private static string? Followed(DifferentialTopology t, SideRecord record, int index, string name, string? outcome,
        Func<Core.Model.Endpoint, Core.Forwarding.EndpointSnapshot, bool> followed, string what)
    {
        if (outcome is not null || t.IsKernel) return outcome;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        if (t.AwaitFollowed(name, followed, FollowBound)) record.FollowDelays.Add(clock.Elapsed);
        else Note(record, index, $"{name}: mvtap did not follow {what} made inside the container within {FollowBound.TotalMilliseconds:0} ms");
        return outcome;
    }

    private static void Note(SideRecord record, int index, string text) =>
        record.Notes[index] = record.Notes.TryGetValue(index, out var before) ? before + "; " + text : text;

    /// <summary>mvtap: what its datapath and core dropped or were refused, by reason, at the end (for a disagreement's report).</summary>
    public static void RecordCountersAtEnd(DifferentialTopology t, SideRecord record)
    {
        var s = t.Datapath!.Stats;
        record.CountersAtEnd.Add($"datapath: from lower {s.FramesFromLower}, from endpoints {s.FramesFromEndpoints}, wire sent {s.WireSent}"
            + $" refused {s.WireRefused} errors {s.WireErrors}, endpoint sent {s.EndpointSent}, truncated {s.Truncated},"
            + $" overflows {s.Overflows}, receive errors {s.ReceiveErrors}");
        record.CountersAtEnd.Add("port drops: " + string.Join(' ', t.Datapath.Port.Counters.NonZeroDrops().Select(kv => $"{kv.Key} {kv.Value}")));
        foreach (var name in t.Endpoints)
            if (t.MvtapEndpoint(name).Counters.NonZeroDrops().ToList() is { Count: > 0 } drops)
                record.CountersAtEnd.Add($"{name} drops: " + string.Join(' ', drops.Select(kv => $"{kv.Key} {kv.Value}")));
    }

    /// <summary>mvtap: each endpoint's multicast filter as the port has it at the end.</summary>
    public static void RecordMulticastAtEnd(DifferentialTopology t, SideRecord record)
    {
        foreach (var name in t.Endpoints)
        {
            var ep = t.MvtapEndpoint(name);
            var groups = ep.MulticastGroups.Select(g => g.ToString()).Order(StringComparer.Ordinal);
            record.MulticastAtEnd[name] = $"groups [{string.Join(' ', groups)}]{(ep.AllMulti ? " allmulticast" : "")}{(ep.Promisc ? " promisc" : "")}";
        }
    }
}
