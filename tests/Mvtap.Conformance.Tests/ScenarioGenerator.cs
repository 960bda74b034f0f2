// Draws a scenario from a seed (the same seed, the same scenario, on any machine): one passthru
// endpoint, or 3-5 endpoints in vepa/bridge/private/source mode with `nodst` and source lists, each
// created, moved into a container of its own and (unless it starts down) brought up there or on the
// switch; per endpoint a multicast state made inside its container (link-layer joins of several
// groups, ALLMULTI, PROMISC, or none; by `ip` or by a packet socket's membership); a reflective
// relay or none; 20-50 frames in batches, with
// events in between (up/down, mode changes, nodst, source-list edits, a few of them invalid so both
// must refuse them alike). The expected state of every endpoint is tracked as the steps are drawn.
using System.Collections.Immutable;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using static Mvtap.Conformance.Tests.Addresses;

namespace Mvtap.Conformance.Tests;

internal static class ScenarioGenerator
{
    private static readonly EndpointMode[] Modes = [EndpointMode.Vepa, EndpointMode.Bridge, EndpointMode.Private, EndpointMode.Source];

    /// <param name="runtimeMoves">some endpoints are moved as a container runtime moves a NIC (`ip link set
    /// NAME netns NS`); without, every move goes through the switch, and the scenario is otherwise the same.</param>
    public static Scenario Generate(int seed, bool runtimeMoves = true)
    {
        var rng = new Random(seed);
        var steps = new List<Step>();
        var state = new Dictionary<string, EndpointState>();
        bool relay = rng.Next(2) == 0;
        bool passthru = rng.Next(8) == 0;
        int count = passthru ? 1 : rng.Next(3, 6);
        var groups = Groups.OrderBy(_ => rng.Next()).Take(rng.Next(3, 5)).ToArray();
        // two modes the scenario favours, so endpoints often share a mode (the rules differ most between peers)
        EndpointMode[] favoured = [Pick(rng, Modes), Pick(rng, Modes)];

        for (int i = 0; i < count; i++)
        {
            string name = $"e{i}";
            var mode = passthru ? EndpointMode.Passthru : Pick(rng, rng.Next(10) < 7 ? favoured : Modes);
            var flags = rng.Next(mode == EndpointMode.Source ? 2 : 10) == 0 ? EndpointFlags.NoDst : EndpointFlags.None;
            var mac = passthru ? Lower : OfEndpoint(i);
            steps.Add(new CreateStep(name, mode, passthru ? null : mac, flags));
            state[name] = new EndpointState(mode, false, flags, false, false, [], [], mac, false);
            var setup = new List<Step>();
            if (mode == EndpointMode.Source) setup.Add(SourceListAtStart(rng, name, count));
            if (rng.Next(4) != 0) setup.Add(new UpDownStep(name, true, Inside: rng.Next(2) == 0));
            switch (rng.Next(10))
            {
                case < 4: break;
                case < 7: setup.AddRange(Joins(rng, name, groups)); break;
                case 7: setup.AddRange(Joins(rng, name, groups)); setup.Add(new FlagStep(name, Promisc: false, BySocket: rng.Next(3) == 0)); break;
                case 8: setup.Add(new FlagStep(name, Promisc: false, BySocket: rng.Next(3) == 0)); break;
                default: setup.Add(new FlagStep(name, Promisc: true, BySocket: rng.Next(3) == 0)); break;
            }
            // the source list before or after the move; joins and flags before or after the up
            if (setup.FirstOrDefault() is SourcesStep s && rng.Next(2) == 0) { Apply(state, s); steps.Add(s); setup.RemoveAt(0); }
            steps.Add(new MoveStep(name, ByRuntime: rng.Next(5) < 2 && runtimeMoves));
            state[name] = state[name] with { Moved = true };
            foreach (var step in setup.OrderBy(_ => rng.Next(3)))
            {
                Apply(state, step);
                steps.Add(step);
            }
        }

        int frames = rng.Next(20, 51);
        int batches = rng.Next(3, 7);
        var sizes = Enumerable.Repeat(2, batches).ToArray();
        for (int f = 2 * batches; f < frames; f++) sizes[rng.Next(batches)]++;
        var draw = new FrameDraw(rng, groups);
        for (int b = 0, number = 0; b < batches; b++)
        {
            var batch = new List<FrameSpec>();
            for (int k = 0; k < sizes[b]; k++) batch.Add(draw.Next(number++, state));
            steps.Add(new FramesStep(b, batch, state.ToImmutableDictionary()));
            if (b == batches - 1) break;
            for (int e = rng.Next(1, 3); e > 0; e--)
            {
                var ev = Event(rng, state, passthru);
                Apply(state, ev);
                steps.Add(ev);
            }
        }
        return new Scenario(seed, relay, steps);
    }

    private static T Pick<T>(Random rng, IReadOnlyList<T> items) => items[rng.Next(items.Count)];

    private static List<MacAddress> SourceCandidates(int count) =>
        [.. Listed, Outside1, Lower, .. Enumerable.Range(0, count).Select(OfEndpoint)];

    private static SourcesStep SourceListAtStart(Random rng, string name, int count)
    {
        var macs = SourceCandidates(count).OrderBy(_ => rng.Next()).Take(rng.Next(1, 4)).ToArray();
        return rng.Next(2) == 0 ? new SourcesStep(name, MacaddrOperation.Set, macs) : new SourcesStep(name, MacaddrOperation.Add, [macs[0]]);
    }

    private static IEnumerable<Step> Joins(Random rng, string name, MacAddress[] groups) =>
        groups.Where(g => g != AllHosts).OrderBy(_ => rng.Next()).Take(rng.Next(1, 4)).Select(g => new JoinStep(name, g, BySocket: rng.Next(3) == 0));

    private static Step Event(Random rng, Dictionary<string, EndpointState> state, bool passthru)
    {
        var names = state.Keys.Order(StringComparer.Ordinal).ToArray();
        string name = Pick(rng, names);
        var st = state[name];
        int kind = passthru ? rng.Next(8) == 0 ? 1 : 0 : rng.Next(10);
        switch (kind)
        {
            case < 4: return new UpDownStep(name, !st.Up, Inside: rng.Next(2) == 0);
            case < 6:
                // to passthru (or from it) both refuse; otherwise any other mode
                if (passthru || rng.Next(15) == 0) return new ModeStep(name, passthru ? EndpointMode.Vepa : EndpointMode.Passthru);
                return new ModeStep(name, Pick(rng, Modes.Where(m => m != st.Mode).ToArray()));
            case 6: return new NoDstStep(name);
            default:
                // mostly on a source endpoint; elsewhere both must refuse it
                var sources = names.Where(n => state[n].Mode == EndpointMode.Source).ToArray();
                if (sources.Length > 0 && rng.Next(8) != 0) st = state[name = Pick(rng, sources)];
                var candidates = SourceCandidates(names.Length);
                return rng.Next(4) switch
                {
                    0 => new SourcesStep(name, MacaddrOperation.Add, [Pick(rng, candidates)]),
                    1 => new SourcesStep(name, MacaddrOperation.Delete, [st.Sources.IsEmpty || rng.Next(4) == 0 ? Pick(rng, candidates) : Pick(rng, st.Sources)]),
                    2 => new SourcesStep(name, MacaddrOperation.Set, candidates.OrderBy(_ => rng.Next()).Take(rng.Next(1, 4)).ToArray()),
                    _ => new SourcesStep(name, MacaddrOperation.Flush, []),
                };
        }
    }

    /// <summary>What the step makes of the endpoint, by the kernel's rules (spec 1.7, 4.4); a refused step changes nothing.</summary>
    private static void Apply(Dictionary<string, EndpointState> state, Step step)
    {
        switch (step)
        {
            case UpDownStep u: state[u.Name] = state[u.Name] with { Up = u.Up }; break;
            case ModeStep m when state[m.Name].Mode != EndpointMode.Passthru && m.Mode != EndpointMode.Passthru:
                var st = state[m.Name];
                state[m.Name] = st with { Mode = m.Mode, Sources = m.Mode == EndpointMode.Source ? st.Sources : [] };
                break;
            case NoDstStep n: state[n.Name] = state[n.Name] with { Flags = EndpointFlags.NoDst }; break;
            case SourcesStep s when state[s.Name].Mode == EndpointMode.Source:
                var list = state[s.Name].Sources;
                list = s.Op switch
                {
                    MacaddrOperation.Add => list.Contains(s.Macs[0]) ? list : list.Add(s.Macs[0]),
                    MacaddrOperation.Delete => list.Remove(s.Macs[0]),
                    MacaddrOperation.Set => [.. s.Macs.Distinct()],
                    _ => [],
                };
                state[s.Name] = state[s.Name] with { Sources = list };
                break;
            case JoinStep j: state[j.Name] = state[j.Name] with { Groups = state[j.Name].Groups.Add(j.Group) }; break;
            case FlagStep f: state[f.Name] = f.Promisc ? state[f.Name] with { Promisc = true } : state[f.Name] with { AllMulti = true }; break;
        }
    }
}
