// Floods of broken frames against mvtapd running as a process (issue 9, Tests): from the
// external host and from inside a container on a macvlan endpoint, bursts of every broken kind
// (BrokenFrames: the reassembly findings, IHL 0-15, lying total lengths, cut headers, fragments
// at every boundary, holes, overlaps, 1-5 VLAN tags, random bytes up to the largest frame the
// sending veth takes; the test veths have MTU 65535). After each burst the daemon is up and
// pings through mvtap work endpoint <-> external and endpoint <-> endpoint; at the end the
// drops are counted by reason in `mvtap -s -j link show` and none is an internal error (a
// frame whose handling threw). Seeded: the seed is printed, FLOOD_SEED=N runs it again.
using System.Text.Json;
using Mvtap.Cli.Demo;
using Mvtap.Core.Frames;
using Mvtap.Linux;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;
using Xunit.Abstractions;

namespace Mvtap.Daemon.Tests;

public sealed class DaemonFloodTests : IDisposable
{
    private const int FramesPerBurst = 1000;
    private const int MaxFrame = 65535 + 14;
    private readonly ITestOutputHelper _log;
    private readonly string _prefix = $"mvf{Environment.ProcessId % 10000}{Random.Shared.Next(100):d2}";
    private readonly string _root = Directory.CreateTempSubdirectory("mvtapd-flood-").FullName;
    private readonly NamespaceSet _namespaces = new();

    private string Host => $"{_prefix}-h";
    private string Ext => $"{_prefix}-x";
    private string A => $"{_prefix}-a";
    private string B => $"{_prefix}-b";

    public DaemonFloodTests(ITestOutputHelper log)
    {
        _log = log;
        try
        {
            foreach (var ns in new[] { Host, Ext, A, B }) _namespaces.Add(ns);
            Shell.Ip("-n", Host, "link", "add", "low0", "mtu", "65535", "type", "veth", "peer", "name", "ext0", "mtu", "65535", "netns", Ext);
            Shell.Ip("-n", Host, "link", "set", "low0", "up");
            Shell.Ip("-n", Ext, "addr", "add", "10.81.0.1/24", "dev", "ext0");
            Shell.Ip("-n", Ext, "link", "set", "ext0", "up");
        }
        catch { Dispose(); throw; }
    }

    public void Dispose()
    {
        _namespaces.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private static bool Ping(string ns, string ip)
    {
        for (int i = 0; i < 5; i++) if (Shell.Ping(ns, ip)) return true;
        return false;
    }

    private static PacketSocket Sender(string ns, string ifName, out MacAddress mac)
    {
        using var rtnl = Rtnetlink.InNamespace(ns);
        var link = rtnl.GetLink(ifName)!;
        mac = link.Address!.Value;
        return NetNamespace.Run(ns, () => new PacketSocket(link.Index, new PacketSocketOptions { Protocol = 0, SendBuffer = 4 << 20 }));
    }

    /// <summary>Sends every frame the interface takes (a full buffer is waited out, bounded); returns how many it refused.</summary>
    private static int Send(PacketSocket socket, List<byte[]> frames)
    {
        int refused = 0;
        foreach (var f in frames)
        {
            try
            {
                for (int attempt = 0; !socket.Send(f); attempt++)
                {
                    if (attempt == 2000) throw new TimeoutException("the sending socket stayed full for 2 s");
                    Thread.Sleep(1);
                }
            }
            catch (SystemCallException) { refused++; } // shorter than a header, longer than the MTU allows
        }
        return refused;
    }

    private static string Drops(JsonElement stats64, string name) =>
        stats64.TryGetProperty(name, out var drops) ? string.Join(' ', drops.EnumerateObject().Select(p => $"{p.Name}={p.Value}")) : "none";

    [Fact]
    public void Floods_of_broken_frames_from_outside_and_from_a_container_leave_forwarding_and_the_daemon_up()
    {
        Assert.True(TestHost.IsRoot, "needs root");
        int seed = int.TryParse(Environment.GetEnvironmentVariable("FLOOD_SEED"), out var s) ? s : Random.Shared.Next();
        _log.WriteLine($"flood seed {seed} (FLOOD_SEED={seed} reproduces it)");
        using var d = new MvtapdProcess(Path.Combine(_root, "run"), Path.Combine(_root, "state"), "--netns", Host);
        d.StartAndWait();
        foreach (var (name, ns, ip) in new[] { ("fa", A, "10.81.0.2"), ("fb", B, "10.81.0.3") })
        {
            var add = d.Cli("link", "add", "link", "low0", "name", name, "type", "macvlan", "mode", "bridge", "netns", ns);
            Assert.True(add.Status == 0, add.Err);
            var up = d.Cli("link", "set", name, "up");
            Assert.True(up.Status == 0, up.Err);
            Shell.Ip("-n", ns, "addr", "add", ip + "/24", "dev", name);
            Shell.Ip("-n", ns, "link", "set", name, "up");
        }
        void AssertForwarding(string after)
        {
            Assert.True(d.IsRunning, $"mvtapd is gone after {after} (seed {seed}):\n{d.Output}");
            Assert.True(Ping(A, "10.81.0.1"), $"a -> external after {after} (seed {seed})");
            Assert.True(Ping(Ext, "10.81.0.2"), $"external -> a after {after} (seed {seed})");
            Assert.True(Ping(A, "10.81.0.3"), $"a -> b after {after} (seed {seed})");
        }
        AssertForwarding("setup");

        using var ext = Sender(Ext, "ext0", out var extMac);
        using var fromA = Sender(A, "fa", out var aMac);
        MacAddress bMac;
        using (var rtnl = Rtnetlink.InNamespace(B)) bMac = rtnl.GetLink("fb")!.Address!.Value;
        foreach (var (source, socket, mac) in new[] { ("the external host", ext, extMac), ("a container", fromA, aMac) })
        {
            var frames = new BrokenFrames(seed ^ mac.GetHashCode(), mac, [aMac, bMac], MaxFrame);
            foreach (var kind in BrokenFrames.Kinds)
            {
                var burst = frames.Burst(kind, FramesPerBurst);
                int refused = Send(socket, burst);
                AssertForwarding($"{kind} from {source}");
                var stats = d.Cli("-s", "-j", "link", "show", "dev", "fa");
                Assert.DoesNotContain("internal_error", stats.Out);
                using var doc = JsonDocument.Parse(stats.Out);
                var s64 = doc.RootElement[0].GetProperty("stats64");
                _log.WriteLine($"{source}: {burst.Count} {kind} frames ({refused} refused by the sending interface); " +
                    $"lower drops {Drops(s64, "lower_drops_by_reason")}; fa drops {Drops(s64, "drops_by_reason")}");
            }
        }

        var show = d.Cli("-s", "-j", "link", "show");
        Assert.Equal(0, show.Status);
        Assert.DoesNotContain("internal_error", show.Out);
        using var json = JsonDocument.Parse(show.Out);
        var links = json.RootElement.EnumerateArray().ToDictionary(l => l.GetProperty("ifname").GetString()!);
        var lower = links["fa"].GetProperty("stats64").GetProperty("lower_drops_by_reason");
        foreach (var reason in new[] { "reasm_invalid", "reasm_overlap", "reasm_duplicate", "reasm_oversize" })
            Assert.True(lower.TryGetProperty(reason, out var n) && n.GetInt64() > 0, $"no {reason} drops counted on the lower (seed {seed})");
        var aDrops = links["fa"].GetProperty("stats64").GetProperty("drops_by_reason");
        Assert.True(aDrops.TryGetProperty("spoofed_source", out var spoofed) && spoofed.GetInt64() > 0, $"no spoofed_source drops counted on fa (seed {seed})");
    }
}
