// `mvtap monitor`: every kind of change appears, in order, in the text and the JSON lines of two
// monitors watching at once (in process: the registry, the control server and the CLI over a real
// lower in a namespace; mvtapd has no periodic look, so each event was pushed as it happened): an
// endpoint added, up, its carrier, a new MAC, a new mode, moved to another namespace, renamed,
// down, its lower's carrier lost and back (the veth peer set down and up), its lower moved to
// another namespace and back, deleted and created again, its datapath thread failed (the thread's
// test seam) and restarted, and deleted. What a container does to its macvlan endpoint's NIC
// (down, renamed, a new MAC, up, moved on to another namespace, deleted) reaches the monitors the
// same way, from the datapath's rtnetlink monitors. A monitor that cannot keep up is told how many
// events it lost.
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Mvtap.Cli;
using Mvtap.Cli.Demo;
using Mvtap.Control;
using Mvtap.Daemon.Control;
using Mvtap.Daemon.Events;
using Mvtap.Daemon.Links;
using Mvtap.Daemon.Lowers;
using Mvtap.Daemon.State;
using Mvtap.Datapath;

namespace Mvtap.Daemon.Tests;

public sealed class MonitorTests
{
    private sealed class Collector : TextWriter
    {
        private readonly StringBuilder _sb = new();
        public override Encoding Encoding => Encoding.UTF8;
        public override void Write(char value) { lock (_sb) _sb.Append(value); }
        public override void Write(string? value) { lock (_sb) _sb.Append(value); }
        public string Text { get { lock (_sb) return _sb.ToString(); } }
    }

    private sealed record Seen(string Kind, string Name, string Detail);

    // text: the link's lines, then "    event KIND [DETAIL]"; the name from the first line ("[Deleted ]N: NAME@LOWER: ...")
    private static List<Seen> FromText(string text)
    {
        var seen = new List<Seen>();
        string? name = null;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("    event ", StringComparison.Ordinal))
            {
                var words = line["    event ".Length..].Split(' ', 2);
                seen.Add(new Seen(words[0], name!, words.Length > 1 ? words[1] : ""));
            }
            else if (!line.StartsWith(' ') && line.Contains(": ", StringComparison.Ordinal))
            {
                string head = line.StartsWith("Deleted ", StringComparison.Ordinal) ? line["Deleted ".Length..] : line;
                name = head.Split(": ")[1].Split('@')[0];
            }
        }
        return seen;
    }

    private static List<Seen> FromJson(string text) =>
        [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).Select(e => new Seen(
            e.GetProperty("event").GetString()!, e.GetProperty("ifname").GetString()!,
            e.TryGetProperty("detail", out var d) ? d.GetString()! : ""))];

    private sealed record Expected(string Kind, string Name, string DetailStart = "");

    // where each expected event is found, in order, among those seen (-1 when one is missing)
    private static int Matched(List<Seen> seen, IReadOnlyList<Expected> expected)
    {
        int at = 0, matched = 0;
        foreach (var x in expected)
        {
            while (at < seen.Count && !(seen[at].Kind == x.Kind && seen[at].Name == x.Name && seen[at].Detail.StartsWith(x.DetailStart, StringComparison.Ordinal))) at++;
            if (at == seen.Count) return matched;
            at++;
            matched++;
        }
        return matched;
    }

    // mvtapd in process (the registry and the control server over a real switch with the lab's lower)
    // and two monitors watching it through the CLI, one printing text, one JSON lines. Do and Await
    // add to the events expected so far and wait (bounded) until both monitors printed all of them,
    // in order. mvtapd has no periodic look: every event seen was pushed.
    private sealed class Rig : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _serving;
        private readonly Task<int> _textMonitor, _jsonMonitor;
        private readonly StringWriter _errors = new();
        private readonly List<Expected> _expected = [];
        public readonly LowerLab Lab;
        public readonly DatapathSwitch Switch;
        public readonly LinkRegistry Registry;
        public readonly ControlServer Server;
        public readonly Collector Text = new(), Json = new();

        /// <summary>A second namespace of the lab's, for moves.</summary>
        public readonly string Other;

        public Rig()
        {
            Assert.True(Shell.IsRoot, "needs root");
            Lab = new LowerLab();
            try
            {
                Other = Lab.AddNamespace(Lab.Name("o"));
                Switch = new DatapathSwitch(Lab.Host, log: _ => { });
                Registry = new LinkRegistry(name => PacketLowerHost.Open(Switch, name), new StateStore(Lab.StateDir), NullLogger.Instance, Lab.RunDir);
                Server = new ControlServer(ControlPaths.SocketPath(Lab.RunDir), Registry, new SocketAccess(null), NullLogger.Instance);
                _serving = Server.RunAsync(_stop.Token);
                _textMonitor = Task.Run(() => MvtapCli.Run(["--run-dir", Lab.RunDir, "monitor"], Text, _errors));
                _jsonMonitor = Task.Run(() => MvtapCli.Run(["--run-dir", Lab.RunDir, "-j", "monitor", "link"], Json, _errors));
                Assert.True(TestNet.WaitFor(() => Server.Events.SubscriberCount, n => n == 2) == 2, $"both monitors subscribe: {_errors}");
            }
            catch
            {
                DisposeAsync().AsTask().GetAwaiter().GetResult();
                throw;
            }
        }

        public IReadOnlyList<Expected> Expected => _expected;

        public void Do(string[] cli, params Expected[] then)
        {
            var r = Cli(Lab.RunDir, cli);
            Assert.True(r.Status == 0, r.Err);
            Await(then);
        }

        public void Await(params Expected[] then)
        {
            _expected.AddRange(then);
            var t = TestNet.WaitFor(() => FromText(Text.Text), s => Matched(s, _expected) == _expected.Count);
            var j = TestNet.WaitFor(() => FromJson(Json.Text), s => Matched(s, _expected) == _expected.Count);
            if (Matched(t, _expected) < _expected.Count) Assert.Fail($"text: {_expected[Matched(t, _expected)]} missing in\n{Text.Text}");
            if (Matched(j, _expected) < _expected.Count) Assert.Fail($"json: {_expected[Matched(j, _expected)]} missing in\n{Json.Text}");
        }

        /// <summary>Stops mvtapd's control server: both monitors end, cleanly, and printed nothing on stderr.</summary>
        public async Task StopAndCheckMonitorsEnd()
        {
            await _stop.CancelAsync();
            await _serving.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(0, await _textMonitor.WaitAsync(TimeSpan.FromSeconds(20)));
            Assert.Equal(0, await _jsonMonitor.WaitAsync(TimeSpan.FromSeconds(20)));
            Assert.Equal("", _errors.ToString());
            Assert.DoesNotContain(FromText(Text.Text), s => s.Kind == LinkEvent.Lost);
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            // (null when the constructor failed before making them)
            try { if (_serving is not null) await _serving.WaitAsync(TimeSpan.FromSeconds(10)); } catch (Exception) { /* ending anyway */ }
            Server?.Dispose();
            Registry?.Dispose();
            Switch?.Dispose();
            Lab.Dispose();
            _stop.Dispose();
        }
    }

    [Fact]
    public async Task Every_kind_of_change_appears_in_order_in_text_and_json()
    {
        await using var rig = new Rig();
        var (lab, other) = (rig.Lab, rig.Other);

        rig.Do(["link", "add", "link", "low0", "name", "m0", "type", "macvtap"], new Expected("added", "m0"));
        rig.Do(["link", "set", "m0", "up"], new("up", "m0"), new("carrier", "m0"));
        rig.Do(["link", "set", "m0", "address", "02:00:00:00:5e:01"], new Expected("address", "m0", "02:00:00:00:5e:01"));
        rig.Do(["link", "set", "m0", "type", "macvtap", "mode", "bridge"], new Expected("mode", "m0", "bridge"));
        rig.Do(["link", "add", "link", "low0", "name", "g0", "type", "macvlan", "netns", lab.Guest], new Expected("added", "g0"));
        rig.Do(["link", "set", "g0", "netns", other], new Expected("netns", "g0", other));
        rig.Do(["link", "set", "m0", "name", "m1"], new Expected("name", "m1", "m0 -> m1"));
        rig.Do(["link", "set", "m1", "down"], new("down", "m1"), new("no-carrier", "m1"));
        rig.Do(["link", "set", "m1", "up"], new("up", "m1"), new("carrier", "m1"));

        // the lower's carrier: its veth peer set down and up
        Shell.Ip("-n", lab.Ext, "link", "set", "ext0", "down");
        rig.Await(new Expected("no-carrier", "m1"));
        Shell.Ip("-n", lab.Ext, "link", "set", "ext0", "up");
        rig.Await(new Expected("carrier", "m1"));

        // the lower moved to another namespace (followed there) and back; a move brings it down
        Shell.Ip("-n", lab.Host, "link", "set", "low0", "netns", other);
        rig.Await(new Expected("lower", "m1", $"moved netns {other}"));
        Shell.Ip("-n", other, "link", "set", "low0", "netns", lab.Host);
        rig.Await(new Expected("lower", "m1", "back"));
        Shell.Ip("-n", lab.Host, "link", "set", "low0", "up");
        rig.Await(new Expected("carrier", "m1"));

        // the deletion takes the lower down first: no-carrier may come before "gone", or with it
        Shell.Ip("-n", lab.Host, "link", "del", "low0");
        rig.Await(new Expected("lower", "m1", "gone"));
        lab.CreateLower();
        rig.Await(new("lower", "m1", "back"), new("carrier", "m1"));

        var dp = rig.Switch.Lowers.Single();
        bool failing = true;
        dp.WakeupHook = () => { if (Volatile.Read(ref failing)) throw new InvalidOperationException("injected failure (test)"); };
        TestNet.WaitFor(() => { dp.CheckHeartbeat(); return Matched(FromText(rig.Text.Text), [.. rig.Expected, new("datapath", "m1", "restarting")]); },
            n => n == rig.Expected.Count + 1);
        rig.Await(new Expected("datapath", "m1", "restarting"), new("no-carrier", "m1"));
        Volatile.Write(ref failing, false);
        rig.Await(new Expected("datapath", "m1", "restarted (restarts 1)"), new("carrier", "m1"));

        rig.Do(["link", "del", "m1"], new Expected("deleted", "m1"));
        await rig.StopAndCheckMonitorsEnd();
    }

    [Fact]
    public async Task What_a_container_does_to_its_interface_is_pushed_to_monitors_in_order_in_text_and_json()
    {
        await using var rig = new Rig();
        var (lab, other) = (rig.Lab, rig.Other);
        rig.Do(["link", "add", "link", "low0", "name", "g0", "type", "macvlan", "netns", lab.Guest, "up"], new Expected("added", "g0"));
        Assert.DoesNotContain("interface", Cli(lab.RunDir, "-d", "link", "show", "g0").Out);

        // what the container does to its NIC, as the kernel's macvlan would see it done to itself
        Shell.Ip("-n", lab.Guest, "link", "set", "g0", "down");
        rig.Await(new("down", "g0"), new("no-carrier", "g0"));
        Shell.Ip("-n", lab.Guest, "link", "set", "g0", "name", "eth7");
        rig.Await(new Expected("interface", "g0", "g0 -> eth7"));
        // link show -d names it (only when it is not the endpoint's name), -j always
        Assert.Contains("    interface eth7 \n", Cli(lab.RunDir, "-d", "link", "show", "g0").Out);
        Assert.Equal("eth7", JsonDocument.Parse(Cli(lab.RunDir, "-j", "-d", "link", "show", "g0").Out).RootElement[0]
            .GetProperty("mvtap").GetProperty("interface").GetString());
        Shell.Ip("-n", lab.Guest, "link", "set", "eth7", "address", "02:00:00:00:5e:07");
        rig.Await(new Expected("address", "g0", "02:00:00:00:5e:07"));
        Shell.Ip("-n", lab.Guest, "link", "set", "eth7", "up");
        rig.Await(new("up", "g0"), new("carrier", "g0"));
        Shell.Ip("-n", lab.Guest, "link", "set", "eth7", "netns", other);
        rig.Await(new Expected("netns", "g0", other));
        Shell.Ip("-n", other, "link", "del", "eth7");
        rig.Await(new Expected("deleted", "g0"));
        await rig.StopAndCheckMonitorsEnd();
    }

    [Fact]
    public void A_subscriber_that_reads_too_slowly_loses_events_counted_and_is_told_before_the_next_one()
    {
        int n = 0;
        var views = new List<LinkView>();
        // a look copies the list under its lock (the test's thread is the only one that changes it)
        using var hub = new LinkEventHub(() => { lock (views) return views.ToList(); }, NullLogger.Instance, queueCapacity: 4);
        var slow = hub.Subscribe();
        // ten endpoints added, one look: four fit, six are lost
        lock (views) for (int i = 1; i <= 10; i++) views.Add(new LinkView { Index = ++n, Name = $"e{n}" });
        hub.Refresh();
        Assert.Equal(6, slow.Lost);
        var got = new List<LinkEvent>();
        while (slow.Events.TryRead(out var e)) got.Add(e);
        Assert.Equal(["e1", "e2", "e3", "e4"], got.Select(e => e.Link!.Name));
        // the next change comes after a line that says how many were lost
        lock (views) views.Add(new LinkView { Index = ++n, Name = $"e{n}" });
        hub.Refresh();
        Assert.True(slow.Events.TryRead(out var lost));
        Assert.Equal((LinkEvent.Lost, 6L), (lost!.Kind, lost.LostCount));
        Assert.True(slow.Events.TryRead(out var next));
        Assert.Equal(("added", "e11"), (next!.Kind, next.Link!.Name));
        Assert.Equal("mvtap monitor: 6 events lost (read too slowly)\n", MonitorCommand.Text(lost));
    }

    private static (int Status, string Out, string Err) Cli(string runDir, params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int status = MvtapCli.Run(["--run-dir", runDir, .. args], o, e);
        return (status, o.ToString(), e.ToString());
    }
}
