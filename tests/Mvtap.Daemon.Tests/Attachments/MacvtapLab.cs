// A real mvtapd with its lower in a throwaway network namespace (a veth whose peer stays in
// the namespace, silent) and macvtap endpoints in bridge mode on it, so frames between two
// endpoints never leave the daemon. Each endpoint's counters are read with `mvtap -j -s`.
using System.Text.Json;
using Mvtap.Cli.Demo;

namespace Mvtap.Daemon.Tests.Attachments;

internal sealed class MacvtapLab : IDisposable
{
    private static int _counter;
    private readonly string _root = Directory.CreateTempSubdirectory("mvtapd-attach-").FullName;
    private bool _namespace;
    private readonly NamespaceSet _guestNamespaces = new();

    /// <param name="daemonArgs">extra mvtapd options.</param>
    public MacvtapLab(params string[] daemonArgs)
    {
        Netns = $"mva{Environment.ProcessId % 100000}x{Interlocked.Increment(ref _counter)}";
        try
        {
            // an endpoint's owner (another uid) reaches its attachment points under the run directory
            File.SetUnixFileMode(_root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
            Shell.Ip("netns", "add", Netns);
            _namespace = true;
            Shell.Ip("-n", Netns, "link", "add", "low0", "type", "veth", "peer", "name", "ext0");
            Shell.Ip("-n", Netns, "link", "set", "low0", "up");
            Shell.Ip("-n", Netns, "link", "set", "ext0", "up");
            Daemon = new MvtapdProcess(Path.Combine(_root, "run"), Path.Combine(_root, "state"), ["--netns", Netns, .. daemonArgs]);
            Daemon.StartAndWait();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Netns { get; }
    public MvtapdProcess Daemon { get; } = null!;
    public string RunDir => Daemon.RunDir;

    /// <summary>Adds a macvtap endpoint in bridge mode, up, and returns its index (the N of tapN).</summary>
    public int AddMacvtap(string name, string mac, params string[] extra)
    {
        var r = Daemon.Cli(["link", "add", "link", "low0", "name", name, "type", "macvtap", "mode", "bridge", "address", mac, .. extra, "up"]);
        Assert.True(r.Status == 0, r.Err);
        using var doc = JsonDocument.Parse(Daemon.Cli("-j", "link", "show", name).Out);
        return doc.RootElement[0].GetProperty("ifindex").GetInt32();
    }

    /// <summary>Adds a macvlan endpoint in bridge mode whose NIC lives in a namespace of its own with
    /// 10.77.0.N/24 (N = 2, 3, ...), ext0 having 10.77.0.1/24; returns that namespace, from which
    /// <see cref="PingsExternal"/> pings ext0.</summary>
    public string AddMacvlanGuest(string name, string mac)
    {
        string ns = $"{Netns}g{_guestNamespaces.Count}";
        _guestNamespaces.Add(ns);
        if (_guestNamespaces.Count == 1) Shell.Ip("-n", Netns, "addr", "add", "10.77.0.1/24", "dev", "ext0");
        var r = Daemon.Cli("link", "add", "link", "low0", "name", name, "type", "macvlan", "mode", "bridge", "address", mac, "netns", ns, "up");
        Assert.True(r.Status == 0, r.Err);
        Shell.Ip("-n", ns, "addr", "add", $"10.77.0.{_guestNamespaces.Count + 1}/24", "dev", name);
        Shell.Ip("-n", ns, "link", "set", name, "up");
        return ns;
    }

    /// <summary>A ping from a macvlan guest's namespace to ext0 is answered (a few tries: the first
    /// may wait for ARP).</summary>
    public bool PingsExternal(string guestNamespace)
    {
        for (int i = 0; i < 5; i++)
            if (Shell.Ping(guestNamespace, "10.77.0.1")) return true;
        return false;
    }

    public string VhostPath(int index) => Path.Combine(RunDir, $"tap{index}.vhost");
    public string StreamPath(int index) => Path.Combine(RunDir, $"tap{index}.stream");

    public EndpointStats Stats(string name)
    {
        var r = Daemon.Cli("-j", "-s", "link", "show", name);
        Assert.True(r.Status == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        var s = doc.RootElement[0].GetProperty("stats64");
        var rx = s.GetProperty("rx");
        var tx = s.GetProperty("tx");
        return new EndpointStats(rx.GetProperty("packets").GetInt64(), rx.GetProperty("bytes").GetInt64(), rx.GetProperty("dropped").GetInt64(),
            tx.GetProperty("packets").GetInt64(), tx.GetProperty("bytes").GetInt64(), tx.GetProperty("dropped").GetInt64());
    }

    /// <summary>Waits (bounded) until two reads of <paramref name="name"/>'s counters agree: the
    /// datapath has finished with what it was given.</summary>
    public EndpointStats SettledStats(string name)
    {
        var last = Stats(name);
        for (int i = 0; i < 100; i++)
        {
            Thread.Sleep(200);
            var now = Stats(name);
            if (now == last) return now;
            last = now;
        }
        throw new TimeoutException($"{name}'s counters kept changing");
    }

    public void Dispose()
    {
        Daemon?.Dispose();
        _guestNamespaces.Dispose();
        if (_namespace) Shell.Run("ip", "netns", "del", Netns);
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}

internal sealed record EndpointStats(long RxPackets, long RxBytes, long RxDropped, long TxPackets, long TxBytes, long TxDropped)
{
    /// <summary>What the endpoint's user actually got: delivered minus what its queue refused.</summary>
    public long RxDelivered => RxPackets - RxDropped;
}
