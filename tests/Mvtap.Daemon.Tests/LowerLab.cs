// Test scaffolding for a lower that comes and goes under a running mvtapd: a "host" namespace where
// mvtapd keeps its lowers (--netns), the lower low0 as one end of a veth pair whose other end ext0
// is the external host (10.82.0.1) in an "ext" namespace, and a "guest" namespace for a macvlan
// endpoint g0 (10.82.0.2). Unique names; every namespace it made is removed on dispose.
using System.Text.Json;
using Mvtap.Cli.Demo;

namespace Mvtap.Daemon.Tests;

internal sealed class LowerLab : IDisposable
{
    public const string ExtIp = "10.82.0.1";
    public const string GuestIp = "10.82.0.2";
    private readonly string _prefix = $"mvl{Environment.ProcessId % 10000}{Random.Shared.Next(1000):d3}";
    private readonly string _root = Directory.CreateTempSubdirectory("mvtapd-lower-").FullName;
    private readonly NamespaceSet _namespaces = new();

    public LowerLab()
    {
        try
        {
            foreach (var ns in new[] { Host, Ext, Guest }) AddNamespace(ns);
            CreateLower();
        }
        catch { Dispose(); throw; }
    }

    public string Host => $"{_prefix}-h";
    public string Ext => $"{_prefix}-x";
    public string Guest => $"{_prefix}-g";
    public string RunDir => Path.Combine(_root, "run");
    public string StateDir => Path.Combine(_root, "state");

    /// <summary>A namespace of this lab's, removed on dispose.</summary>
    public string AddNamespace(string name)
    {
        return _namespaces.Add(name);
    }

    public string Name(string suffix) => $"{_prefix}-{suffix}";

    /// <summary>(Re-)creates low0 in the host namespace and ext0, addressed, in the external one.</summary>
    public void CreateLower(string name = "low0")
    {
        Shell.Ip("-n", Host, "link", "add", name, "type", "veth", "peer", "name", "ext0", "netns", Ext);
        Shell.Ip("-n", Host, "link", "set", name, "up");
        Shell.Ip("-n", Ext, "addr", "add", ExtIp + "/24", "dev", "ext0");
        Shell.Ip("-n", Ext, "link", "set", "ext0", "up");
    }

    public MvtapdProcess Daemon(params string[] extraArgs) => new(RunDir, StateDir, ["--netns", Host, .. extraArgs]);

    /// <summary>Starts mvtapd with g0 in the guest namespace, passing traffic.</summary>
    public MvtapdProcess StartWithGuest(params string[] extraArgs)
    {
        var d = Daemon(extraArgs);
        try
        {
            d.StartAndWait();
            AddGuest(d, this);
            Assert.True(GuestReachesExt(), "before anything happened to the lower");
            return d;
        }
        catch { d.Dispose(); throw; }
    }

    /// <summary>Adds g0 (macvlan, bridge) in the guest namespace, up and addressed.</summary>
    public static void AddGuest(MvtapdProcess d, LowerLab lab)
    {
        var add = d.Cli("link", "add", "link", "low0", "name", "g0", "type", "macvlan", "mode", "bridge", "netns", lab.Guest, "up");
        Assert.True(add.Status == 0, add.Err);
        Shell.Ip("-n", lab.Guest, "addr", "add", GuestIp + "/24", "dev", "g0");
        Shell.Ip("-n", lab.Guest, "link", "set", "g0", "up");
    }

    /// <summary>The guest reaches the external host (a few tries: ARP first; a re-created peer has a new
    /// MAC, so the guest's neighbour entry is flushed).</summary>
    public bool GuestReachesExt()
    {
        Shell.Run("ip", "-n", Guest, "neigh", "flush", "all");
        for (int i = 0; i < 5; i++) if (Shell.Ping(Guest, ExtIp)) return true;
        return false;
    }

    /// <summary>`mvtap -j -d -s link show NAME`, parsed.</summary>
    public static JsonElement Show(MvtapdProcess d, string name = "g0")
    {
        var show = d.Cli("-j", "-d", "-s", "link", "show", name);
        Assert.True(show.Status == 0, show.Err);
        return JsonDocument.Parse(show.Out).RootElement[0].Clone();
    }

    public static string LowerState(JsonElement link) => link.GetProperty("mvtap").GetProperty("lower").GetProperty("state").GetString()!;

    public static string? LowerReason(JsonElement link) =>
        link.GetProperty("mvtap").GetProperty("lower").TryGetProperty("reason", out var r) ? r.GetString() : null;

    public static bool HasFlag(JsonElement link, string flag) => link.GetProperty("flags").EnumerateArray().Any(f => f.GetString() == flag);

    public static ulong Drops(JsonElement link, string reason) =>
        link.GetProperty("stats64").GetProperty("drops_by_reason").TryGetProperty(reason, out var n) ? n.GetUInt64() : 0;

    public static ulong TxPackets(JsonElement link) => link.GetProperty("stats64").GetProperty("tx").GetProperty("packets").GetUInt64();

    /// <summary>The lower's promiscuity count as the kernel reports it.</summary>
    public int LowerPromiscuity(string name = "low0")
    {
        var (_, output) = Shell.Run("ip", "-n", Host, "-j", "-d", "link", "show", name);
        return JsonDocument.Parse(output).RootElement[0].GetProperty("promiscuity").GetInt32();
    }

    /// <summary>The saved endpoints: name → lower.</summary>
    public Dictionary<string, string> Saved()
    {
        var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(StateDir, "state.json"))).RootElement;
        return state.GetProperty("endpoints").EnumerateArray()
            .ToDictionary(e => e.GetProperty("name").GetString()!, e => e.GetProperty("lower").GetString()!);
    }

    public void Dispose()
    {
        _namespaces.Dispose();
        Directory.Delete(_root, recursive: true);
    }
}
