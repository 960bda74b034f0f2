// `mvtap monitor`: every kind of change appears, in order, in the text and the JSON lines of two
// monitors watching at once (in process: the registry, the control server and the CLI over a real
// lower in a namespace): an endpoint added, up, its carrier, a new MAC, a new mode, moved to
// another namespace, down, its lower deleted and created again, its datapath thread failed (the
// thread's test seam) and restarted, and deleted. A monitor that cannot keep up is told how many
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

    [Fact]
    public async Task Every_kind_of_change_appears_in_order_in_text_and_json()
    {
        Assert.True(Shell.IsRoot, "needs root");
        using var lab = new LowerLab();
        string other = lab.AddNamespace(lab.Name("o"));
        using var sw = new DatapathSwitch(lab.Host, log: _ => { });
        using var registry = new LinkRegistry(name => PacketLowerHost.Open(sw, name), new StateStore(lab.StateDir), NullLogger.Instance, lab.RunDir);
        using var server = new ControlServer(ControlPaths.SocketPath(lab.RunDir), registry, new SocketAccess(null), NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var serving = server.RunAsync(stop.Token);
        var text = new Collector();
        var json = new Collector();
        var errors = new StringWriter();
        var textMonitor = Task.Run(() => MvtapCli.Run(["--run-dir", lab.RunDir, "monitor"], text, errors));
        var jsonMonitor = Task.Run(() => MvtapCli.Run(["--run-dir", lab.RunDir, "-j", "monitor", "link"], json, errors));
        var expected = new List<Expected>();
        void Do(string[] cli, params Expected[] then) { var r = Cli(lab.RunDir, cli); Assert.True(r.Status == 0, r.Err); Await(then); }
        void Await(params Expected[] then)
        {
            expected.AddRange(then);
            var t = TestNet.WaitFor(() => FromText(text.Text), s => Matched(s, expected) == expected.Count);
            var j = TestNet.WaitFor(() => FromJson(json.Text), s => Matched(s, expected) == expected.Count);
            if (Matched(t, expected) < expected.Count) Assert.Fail($"text: {expected[Matched(t, expected)]} missing in\n{text.Text}");
            if (Matched(j, expected) < expected.Count) Assert.Fail($"json: {expected[Matched(j, expected)]} missing in\n{json.Text}");
        }
        try
        {
            Assert.True(TestNet.WaitFor(() => server.Events.SubscriberCount, n => n == 2) == 2, $"both monitors subscribe: {errors}");

            Do(["link", "add", "link", "low0", "name", "m0", "type", "macvtap"], new Expected("added", "m0"));
            Do(["link", "set", "m0", "up"], new("up", "m0"), new("carrier", "m0"));
            Do(["link", "set", "m0", "address", "02:00:00:00:5e:01"], new Expected("address", "m0", "02:00:00:00:5e:01"));
            Do(["link", "set", "m0", "type", "macvtap", "mode", "bridge"], new Expected("mode", "m0", "bridge"));
            Do(["link", "add", "link", "low0", "name", "g0", "type", "macvlan", "netns", lab.Guest], new Expected("added", "g0"));
            Do(["link", "set", "g0", "netns", other], new Expected("netns", "g0", other));
            Do(["link", "set", "m0", "down"], new("down", "m0"), new("no-carrier", "m0"));
            Do(["link", "set", "m0", "up"], new("up", "m0"), new("carrier", "m0"));

            Shell.Ip("-n", lab.Host, "link", "del", "low0");
            Await(new("lower", "m0", "gone"), new("no-carrier", "m0"));
            lab.CreateLower();
            Await(new("lower", "m0", "back"), new("carrier", "m0"));

            var dp = sw.Lowers.Single();
            bool failing = true;
            dp.WakeupHook = () => { if (Volatile.Read(ref failing)) throw new InvalidOperationException("injected failure (test)"); };
            TestNet.WaitFor(() => { dp.CheckHeartbeat(); return Matched(FromText(text.Text), [.. expected, new("datapath", "m0", "restarting")]); },
                n => n == expected.Count + 1);
            Await(new Expected("datapath", "m0", "restarting"), new("no-carrier", "m0"));
            Volatile.Write(ref failing, false);
            Await(new Expected("datapath", "m0", "restarted (restarts 1)"), new("carrier", "m0"));

            Do(["link", "del", "m0"], new Expected("deleted", "m0"));
            Assert.DoesNotContain(FromText(text.Text), s => s.Kind == LinkEvent.Lost);
        }
        finally
        {
            await stop.CancelAsync();
            await serving.WaitAsync(TimeSpan.FromSeconds(10));
        }
        // mvtapd stopping ends both monitors, cleanly
        Assert.Equal(0, await textMonitor.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(0, await jsonMonitor.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal("", errors.ToString());
    }

    [Fact]
    public void A_subscriber_that_reads_too_slowly_loses_events_counted_and_is_told_before_the_next_one()
    {
        int n = 0;
        var views = new List<LinkView>();
        // the hub also looks on its own every 100 ms: a look copies the list under its lock
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
