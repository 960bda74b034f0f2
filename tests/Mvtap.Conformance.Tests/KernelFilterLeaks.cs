// The kernel's per-endpoint multicast filter is a 256-bit hash salted per device (spec 1.5, quirk
// Q7): a group an endpoint never joined gets through now and then, differently on every device and
// boot. mvtap's filter is exact (a deliberate difference, README.md). So on a kernel side, a copy of
// a multicast frame delivered to an endpoint that had not joined the group (and was not ALLMULTI or
// PROMISC, and got it through the filter, not through a source list or as its own reflection) is
// checked after the run: the same group is sent again to that very endpoint's filter (the endpoint
// brought up, in a mode that floods to it); if it passes, the copy was the hash's doing and is set
// aside, and counted. If it does not pass, the copy stays and the comparison shows it.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Datapath.Tests.E2e;
using static Mvtap.Conformance.Tests.Addresses;

namespace Mvtap.Conformance.Tests;

internal static class KernelFilterLeaks
{
    /// <summary>Probe frames are numbered from here, far above any scenario frame.</summary>
    private const int ProbeBase = 0x8000;

    public static void SetAside(DifferentialTopology t, Scenario sc, SideRecord record, TimeSpan quiet)
    {
        var candidates = new List<(int Frame, string Endpoint, MacAddress Group)>();
        foreach (var batch in sc.Steps.OfType<FramesStep>())
        {
            foreach (var f in batch.Frames)
            {
                var group = f.Destination;
                if (!group.IsMulticast || group.IsBroadcast) continue;
                foreach (var point in record.CopiesOf(f.Number).Keys)
                    if (batch.States.TryGetValue(point, out var st) && ThroughFilterUnjoined(st, f, group)) candidates.Add((f.Number, point, group));
            }
        }
        if (candidates.Count == 0) return;

        var probes = candidates.Select(c => (c.Endpoint, c.Group)).Distinct().ToList();
        var last = sc.Steps.OfType<FramesStep>().Last().States;
        foreach (var name in probes.Select(p => p.Endpoint).Distinct())
        {
            // a source endpoint gets nothing through its filter, a down one nothing at all
            if (last[name].Mode == EndpointMode.Source) t.SetModeOf(name, EndpointMode.Vepa);
            t.SetUpOnSwitch(name, true);
        }
        t.ResetObservations();
        for (int k = 0; k < probes.Count; k++)
            t.Send("wire", E2eFrames.Build(probes[k].Group, Prober, E2eFrames.TagBase | (uint)(ProbeBase + k)));
        DifferentialTopology.Settle([t], [0], quiet);
        var seen = t.Collect().Seen;

        for (int k = 0; k < probes.Count; k++)
        {
            var (name, group) = probes[k];
            bool passes = seen.TryGetValue(name, out var frames) && frames.Exists(f => ScenarioText.NumberOf(f) == ProbeBase + k);
            if (!passes) continue;
            foreach (var c in candidates.Where(c => c.Endpoint == name && c.Group == group))
            {
                record.Copies[c.Frame].Remove(name);
                record.FilterLeaks.Add($"#{c.Frame} at {name}: {group} passes {name}'s hash filter without a join");
            }
        }
    }

    /// <summary>Did the endpoint get this copy through its multicast filter only (spec 3.2), without having
    /// joined the group? Source endpoints never use the filter (they get source-list copies and their own
    /// reflections); a private or passthru endpoint's own multicast comes back to it unfiltered.</summary>
    private static bool ThroughFilterUnjoined(EndpointState st, FrameSpec f, MacAddress group) =>
        st.Up && st.Mode != EndpointMode.Source && !st.AllMulti && !st.Promisc && !st.Groups.Contains(group) && group != AllHosts
        && !(f.Source == st.Mac && st.Mode is EndpointMode.Private or EndpointMode.Passthru);
}
