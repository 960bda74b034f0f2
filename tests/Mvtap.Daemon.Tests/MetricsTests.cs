// `mvtapd --metrics ADDRESS:PORT`, the real daemon: scraped over HTTP during and after real
// traffic in namespaces, each scrape passes `promtool check metrics` and, once the traffic has
// stopped, every endpoint's and lower's counter equals what `mvtap -s -j link show` reports; a
// deleted endpoint (or one whose mode changed) leaves no stale series; the listener closes with
// mvtapd; a bad ADDRESS:PORT is refused at start in words with exit status 1. The datapath thread's
// frames per wake-up (a histogram whose sum is the frames it read), broadcast-queue depth and
// reassembly slots in use are exported per lower.
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Mvtap.Core.Model;

namespace Mvtap.Daemon.Tests;

public sealed class MetricsTests : IDisposable
{
    private const int SIGTERM = 15;
    private const int Pings = 200;
    private readonly string _root = Directory.CreateTempSubdirectory("mvtapd-metrics-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task ScrapesDuringTrafficPassPromtoolAndAfterItEqualLinkShow()
    {
        using var lab = new LowerLab();
        using var d = lab.StartWithGuest("--metrics", "127.0.0.1:0");
        var add = d.Cli("link", "add", "link", "low0", "name", "t0", "type", "macvtap", "mode", "bridge", "up");
        Assert.True(add.Status == 0, add.Err);
        var url = MetricsScrape.Url(d);

        // the guest's next ARP request is a broadcast, which reaches t0 too (bridge mode) and finds no guest there
        Mvtap.Cli.Demo.Shell.Ip("-n", lab.Guest, "neigh", "flush", "dev", "g0");
        // during: a ping flood from the guest to the external host
        var traffic = Task.Run(() => Sh.Try("ip", "netns", "exec", lab.Guest, "ping", "-q", "-c", $"{Pings}", "-i", "0.01", LowerLab.ExtIp));
        var during = MetricsScrape.Get(url);
        var checkDuring = MetricsScrape.Promtool(during);
        Assert.True(checkDuring.Status == 0 && checkDuring.Output.Trim().Length == 0, $"promtool during traffic: {checkDuring.Output}");
        var (pingStatus, pingOutput) = await traffic;
        Assert.True(pingStatus == 0, pingOutput);

        // after: a scrape between two equal `link show`s, so nothing moved while it was taken
        var (links, after) = StableScrape(d, url);
        var checkAfter = MetricsScrape.Promtool(after);
        Assert.True(checkAfter.Status == 0 && checkAfter.Output.Trim().Length == 0, $"promtool after traffic: {checkAfter.Output}");
        var samples = MetricsScrape.Parse(after);
        Assert.Equal(["g0", "t0"], links.Select(l => l.GetProperty("ifname").GetString()).Order());
        foreach (var link in links) AssertEqual(link, samples);

        var g0 = links.Single(l => l.GetProperty("ifname").GetString() == "g0");
        Assert.True(g0.GetProperty("stats64").GetProperty("tx").GetProperty("packets").GetUInt64() >= Pings, "the pings went out through g0");
        Assert.True(MetricsScrape.Value(samples, "mvtap_datapath_wakeups_total", ("lower", "low0")) > 0, "the datapath thread's wake-ups are counted");
        Assert.Equal(1, MetricsScrape.Value(samples, "mvtap_lower_forwarding", ("lower", "low0")));
        Assert.Equal(0, MetricsScrape.Value(samples, "mvtap_lower_datapath_restarts_total", ("lower", "low0")));
        // the macvtap endpoint's vhost-user device, no guest attached
        Assert.Equal(0, MetricsScrape.Value(samples, "mvtap_vhost_user_ring_full_total", ("endpoint", "t0"), ("lower", "low0")));
        Assert.Equal(0, MetricsScrape.Value(samples, "mvtap_vhost_user_device_broken_total", ("endpoint", "t0"), ("lower", "low0")));
        Assert.Null(MetricsScrape.Value(samples, "mvtap_vhost_user_ring_full_total", ("endpoint", "g0"), ("lower", "low0")));
        // frames for a macvtap endpoint that no guest is attached to are dropped as no_guest, not as a full queue
        var t0 = new[] { ("endpoint", "t0"), ("lower", "low0"), ("mode", "bridge"), ("type", "macvtap") };
        Assert.True(MetricsScrape.Value(samples, "mvtap_endpoint_drops_total", [.. t0, ("reason", "no_guest")]) >= 1,
            "the ARP broadcast given to t0 was not counted as no_guest");
        Assert.Equal(0, MetricsScrape.Value(samples, "mvtap_endpoint_drops_total", [.. t0, ("reason", "queue_full")]));
        AssertDatapathCounters(samples);
    }

    // the datapath thread's histogram of frames per wake-up, broadcast-queue depth and reassembly slots
    private static void AssertDatapathCounters(Dictionary<string, double> samples)
    {
        double V(string name, params (string, string)[] labels) =>
            MetricsScrape.Value(samples, name, labels) ?? throw new Xunit.Sdk.XunitException($"{name} is not exported");
        var low0 = ("lower", "low0");
        double wakeups = V("mvtap_datapath_wakeups_total", low0), count = V("mvtap_datapath_frames_per_wakeup_count", low0);
        // every wake-up is in the histogram once it is over (one may be under way as the scrape is taken)
        Assert.InRange(count, wakeups - 1, wakeups);
        Assert.Equal(V("mvtap_datapath_frames_from_lower_total", low0) + V("mvtap_datapath_frames_from_endpoints_total", low0),
            V("mvtap_datapath_frames_per_wakeup_sum", low0));
        Assert.Equal(count, V("mvtap_datapath_frames_per_wakeup_bucket", low0, ("le", "+Inf")));
        Assert.True(V("mvtap_datapath_frames_per_wakeup_bucket", low0, ("le", "1")) > 0, "pings one by one: wake-ups with one frame");
        double previous = 0;
        foreach (var le in new[] { "0", "1", "2", "4", "8", "16", "32", "64", "128", "256", "512", "+Inf" })
        {
            double bucket = V("mvtap_datapath_frames_per_wakeup_bucket", low0, ("le", le));
            Assert.True(bucket >= previous, $"cumulative buckets: le={le}");
            previous = bucket;
        }
        Assert.True(V("mvtap_lower_broadcast_queue_depth", low0) >= 0);
        Assert.Equal(0, V("mvtap_lower_reassembly_datagrams", low0));
        Assert.Equal(0, V("mvtap_lower_reassembly_bytes", low0));
    }

    [Fact]
    public void DeletedEndpointAndChangedModeLeaveNoStaleSeriesAndTheListenerClosesWithMvtapd()
    {
        using var d = new MvtapdProcess(Path.Combine(_root, "run"), Path.Combine(_root, "state"), "--metrics", "localhost:0");
        d.StartAndWait();
        foreach (var name in new[] { "m0", "m1" })
        {
            var add = d.Cli("link", "add", "link", "sim0", "name", name, "type", "macvlan", "mode", "vepa", "up");
            Assert.True(add.Status == 0, add.Err);
        }
        var url = MetricsScrape.Url(d);
        Assert.Contains("endpoint=\"m0\"", MetricsScrape.Get(url));

        Assert.Equal(0, d.Cli("link", "del", "m0").Status);
        Assert.Equal(0, d.Cli("link", "set", "m1", "type", "macvlan", "mode", "private").Status);
        var scrape = MetricsScrape.Get(url);
        Assert.DoesNotContain("endpoint=\"m0\"", scrape);
        Assert.DoesNotContain("mode=\"vepa\"", scrape);
        Assert.Contains("mvtap_endpoint_receive_packets_total{endpoint=\"m1\",lower=\"sim0\",mode=\"private\",type=\"macvlan\"} 0", scrape);

        // the last endpoint gone, its lower is closed: no lower series either
        Assert.Equal(0, d.Cli("link", "del", "m1").Status);
        scrape = MetricsScrape.Get(url);
        Assert.DoesNotContain("endpoint=", scrape);
        Assert.DoesNotContain("lower=", scrape);
        Assert.True(MetricsScrape.Promtool(scrape).Status == 0, "an empty scrape is valid too");

        d.Signal(SIGTERM);
        Assert.Equal(0, d.WaitForExit());
        var refused = Assert.ThrowsAny<Exception>(() => MetricsScrape.Get(url));
        Assert.Contains("refused", refused.ToString(), StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("127.0.0.1", "expected ADDRESS:PORT")]
    [InlineData("127.0.0.1:", "expected ADDRESS:PORT")]
    [InlineData("127.0.0.1:65536", "\"65536\" is not a port (0-65535)")]
    [InlineData("127.0.0.1:-1", "\"-1\" is not a port")]
    [InlineData("127.1:9417", "\"127.1\" is not an IPv4 address, an IPv6 address in brackets or localhost")]
    [InlineData("::1:9417", "is not an IPv4 address")]
    [InlineData("example.org:9417", "\"example.org\" is not an IPv4 address")]
    [InlineData("192.0.2.1:9417", "cannot serve --metrics on 192.0.2.1:9417: Cannot assign requested address")]
    public void BadMetricsAddressIsRefusedAtStartInWords(string address, string words)
    {
        using var d = new MvtapdProcess(Path.Combine(_root, "run"), Path.Combine(_root, "state"), "--metrics", address);
        d.Start();
        Assert.Equal(1, d.WaitForExit());
        Assert.Contains($"mvtapd: ", d.Output);
        Assert.Contains(words, d.Output);
        Assert.False(File.Exists(d.SocketPath), "nothing was started");
    }

    [Fact]
    public void MetricsPortInUseIsRefusedAtStart()
    {
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        var at = (IPEndPoint)taken.LocalEndPoint!;
        using var d = new MvtapdProcess(Path.Combine(_root, "run"), Path.Combine(_root, "state"), "--metrics", at.ToString());
        d.Start();
        Assert.Equal(1, d.WaitForExit());
        Assert.Contains($"mvtapd: cannot serve --metrics on {at}: Address already in use", d.Output);
    }

    [Fact]
    public void MalformedAndIdleHttpClientsGetAnswersOrAreClosedAndScrapesGoOn()
    {
        using var d = new MvtapdProcess(Path.Combine(_root, "run"), Path.Combine(_root, "state"), "--metrics", "127.0.0.1:0");
        d.StartAndWait();
        var url = MetricsScrape.Url(d);
        var at = IPEndPoint.Parse(new Uri(url).Authority);
        Assert.StartsWith("HTTP/1.1 400 ", Raw(at, "garbage\r\n\r\n"));
        // a head of 8 KiB without its end: exactly what the server reads before it answers (nothing left
        // unread, so its close is no reset that could overtake the answer)
        Assert.StartsWith("HTTP/1.1 400 ", Raw(at, "GET /metrics HTTP/1.1\r\nX: ".PadRight(8192, 'a')));
        Assert.StartsWith("HTTP/1.1 405 ", Raw(at, "POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
        Assert.StartsWith("HTTP/1.1 404 ", Raw(at, "GET /metricsx HTTP/1.1\r\nHost: x\r\n\r\n"));
        var head = Raw(at, "HEAD /metrics HTTP/1.0\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200 ", head);
        Assert.EndsWith("\r\n\r\n", head);
        // clients that connect and say nothing, more than are served at once
        var idle = new List<Socket>();
        try
        {
            for (int i = 0; i < 12; i++)
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                idle.Add(s);
                s.Connect(at);
            }
        }
        finally
        {
            foreach (var s in idle) s.Dispose();
        }
        Assert.Contains("# TYPE mvtap_endpoint_receive_packets_total counter", TestNet.WaitFor(() => TryGet(url), r => r.Contains("# TYPE", StringComparison.Ordinal)));
        Assert.True(d.IsRunning, d.Output);
    }

    private static string TryGet(string url)
    {
        try { return MetricsScrape.Get(url); }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { return e.Message; }
    }

    // what the server answers to <paramref name="request"/> sent whole, up to its closing the connection
    private static string Raw(IPEndPoint at, string request)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 30_000 };
        s.Connect(at);
        try { s.Send(System.Text.Encoding.ASCII.GetBytes(request)); }
        catch (SocketException) { /* closed on us before all was sent: the answer may be there */ }
        var answer = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            for (int n; (n = s.Receive(buffer)) > 0;) answer.Write(buffer, 0, n);
        }
        catch (SocketException) { /* reset after the answer */ }
        return System.Text.Encoding.ASCII.GetString(answer.ToArray());
    }

    // `mvtap -s -d -j link show` before and after a scrape; retried (bounded) until the two agree
    private static (JsonElement[] Links, string Scrape) StableScrape(MvtapdProcess d, string url)
    {
        for (int attempt = 0; attempt < 50; attempt++)
        {
            var before = d.Cli("-s", "-d", "-j", "link", "show");
            Assert.True(before.Status == 0, before.Err);
            var scrape = MetricsScrape.Get(url);
            var after = d.Cli("-s", "-d", "-j", "link", "show");
            if (before.Out == after.Out)
                return ([.. JsonDocument.Parse(before.Out).RootElement.EnumerateArray().Select(e => e.Clone())], scrape);
        }
        Assert.Fail("the counters never held still across a scrape");
        return default;
    }

    private static void AssertEqual(JsonElement link, Dictionary<string, double> samples)
    {
        string name = link.GetProperty("ifname").GetString()!, lower = link.GetProperty("link").GetString()!;
        var info = link.GetProperty("linkinfo");
        (string, string)[] labels = [("endpoint", name), ("lower", lower),
            ("mode", info.GetProperty("info_data").GetProperty("mode").GetString()!), ("type", info.GetProperty("info_kind").GetString()!)];
        var stats = link.GetProperty("stats64");
        void Same(string metric, ulong expected, params (string, string)[] l) =>
            Assert.True(MetricsScrape.Value(samples, metric, l) == expected,
                $"{metric}{{{string.Join(',', l)}}}: scraped {MetricsScrape.Value(samples, metric, l)?.ToString() ?? "nothing"}, link show {expected}");
        ulong Get(string dir, string field) => stats.GetProperty(dir).GetProperty(field).GetUInt64();
        Same("mvtap_endpoint_receive_packets_total", Get("rx", "packets"), labels);
        Same("mvtap_endpoint_receive_bytes_total", Get("rx", "bytes"), labels);
        Same("mvtap_endpoint_receive_multicast_total", Get("rx", "multicast"), labels);
        Same("mvtap_endpoint_receive_errs_total", Get("rx", "errors"), labels);
        Same("mvtap_endpoint_receive_drop_total", Get("rx", "dropped"), labels);
        Same("mvtap_endpoint_transmit_packets_total", Get("tx", "packets"), labels);
        Same("mvtap_endpoint_transmit_bytes_total", Get("tx", "bytes"), labels);
        Same("mvtap_endpoint_transmit_drop_total", Get("tx", "dropped"), labels);
        Same("mvtap_lower_receive_packets_total", Get("lower", "rx_packets"), ("lower", lower));
        Same("mvtap_lower_transmit_packets_total", Get("lower", "tx_packets"), ("lower", lower));
        foreach (var reason in Enum.GetValues<DropReason>().Select(r => r.Name()))
        {
            Same("mvtap_endpoint_drops_total", Drops(stats, "drops_by_reason", reason), [.. labels, ("reason", reason)]);
            Same("mvtap_lower_drops_total", Drops(stats, "lower_drops_by_reason", reason), ("lower", lower), ("reason", reason));
        }
    }

    private static ulong Drops(JsonElement stats, string table, string reason) =>
        stats.TryGetProperty(table, out var t) && t.TryGetProperty(reason, out var n) ? n.GetUInt64() : 0;
}
