// A private network for one test: an external host in its own namespace on the far end of a veth
// whose near end is the lower device (in a namespace of mvtapd's, or in the host's for the
// reference macvlan plugin, which looks its master up there), mvtapd with run and state
// directories of the test's own, host-local IPAM with its own data directory, and the installed
// plugin run the way a runtime runs it: environment, configuration on stdin, result on stdout.
// Everything is removed on Dispose, endpoints first (so no veth end outlives the test).
using System.Diagnostics;
using System.Text.Json;

namespace Mvtap.Cni.Tests;

internal sealed record PluginRun(int Status, string Stdout, string Stderr)
{
    public JsonElement Json => JsonDocument.Parse(Stdout).RootElement;
    public int? ErrorCode => Status != 0 && Stdout.Length > 0 ? Json.GetProperty("code").GetInt32() : null;
    public override string ToString() => $"exit {Status}\nstdout: {Stdout}\nstderr: {Stderr}";
}

internal sealed class CniLab : IDisposable
{
    public const string Subnet = "10.81.0";
    public const string ExternalAddress = Subnet + ".100";
    public const string CniPath = "/usr/lib/cni";
    private static int _counter;
    private readonly NamespaceSet _namespaces = new();
    private readonly bool _lowerInHost;
    private MvtapdProcess? _daemon;

    /// <param name="startDaemon">false: mvtapd starts on first use of <see cref="Daemon"/>.</param>
    public CniLab(bool lowerInHost = false, bool startDaemon = true)
    {
        _lowerInHost = lowerInHost;
        Id = Interlocked.Increment(ref _counter);
        Prefix = $"mvc{Environment.ProcessId % 10000}x{Id}";
        Dir = Directory.CreateTempSubdirectory($"{Prefix}-").FullName;
        try
        {
            Build();
            if (startDaemon) _ = Daemon;
        }
        catch { Dispose(); throw; }
    }

    public int Id { get; }
    public string Prefix { get; }
    public string Dir { get; }
    public string External => $"{Prefix}-ext";
    /// <summary>mvtapd's --netns (where the lower is); null when the lower is in the host's namespace.</summary>
    public string? DaemonNetns => _lowerInHost ? null : $"{Prefix}-d";
    public string Lower => _lowerInHost ? $"{Prefix}l" : "low0";
    public string RunDir => Path.Combine(Dir, "run");
    public string IpamDir => Path.Combine(Dir, "ipam");

    private void Build()
    {
        AddNamespace(External);
        if (DaemonNetns is { } d)
        {
            AddNamespace(d);
            Sh.Ip("-n", d, "link", "add", Lower, "type", "veth", "peer", "name", "eth0", "netns", External);
            Sh.Ip("-n", d, "link", "set", Lower, "up");
        }
        else
        {
            Sh.Ip("link", "add", Lower, "type", "veth", "peer", "name", "eth0", "netns", External);
            Sh.Ip("link", "set", Lower, "up");
        }
        Sh.Ip("-n", External, "addr", "add", $"{ExternalAddress}/24", "dev", "eth0");
        Sh.Ip("-n", External, "link", "set", "eth0", "up");
    }

    private void AddNamespace(string ns)
    {
        _namespaces.Add(ns, loopbackUp: true);
    }

    /// <summary>A container's network namespace, named under /run/netns as runtimes make them.</summary>
    public string NewContainerNamespace(string tag)
    {
        var ns = $"{Prefix}-{tag}";
        AddNamespace(ns);
        return $"/run/netns/{ns}";
    }

    public void DeleteNamespace(string path)
    {
        var ns = Path.GetFileName(path);
        _namespaces.Delete(ns);
    }

    public MvtapdProcess Daemon => _daemon ??= StartDaemon();

    private MvtapdProcess StartDaemon()
    {
        var d = new MvtapdProcess(RunDir, Path.Combine(Dir, "state"), DaemonNetns is { } ns ? ["--netns", ns] : []);
        try { d.StartAndWait(); }
        catch { d.Dispose(); throw; }
        return d;
    }

    /// <summary>A network configuration of the mvtap plugin with host-local IPAM on this lab's subnet;
    /// <paramref name="extra"/> is spliced in (",\"key\":value...").</summary>
    public string Conf(string version, string network, string extra = "", bool ipam = true) =>
        "{\"cniVersion\":\"" + version + "\",\"name\":\"" + network + "\",\"type\":\"mvtap\",\"master\":\"" + Lower +
        "\",\"mode\":\"bridge\",\"runDir\":\"" + RunDir + "\"" +
        (ipam ? ",\"ipam\":{\"type\":\"host-local\",\"subnet\":\"" + Subnet + ".0/24\",\"rangeStart\":\"" + Subnet + ".10\",\"dataDir\":\"" + IpamDir + "\"}" : "") +
        extra + "}";

    /// <summary>Runs the installed plugin as a runtime does.</summary>
    public static PluginRun Plugin(string command, string stdin, string? containerId = null, string? netns = null, string? ifName = "eth0",
        string? plugin = null, IDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo(plugin ?? InstalledPlugin.Path)
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        psi.Environment["CNI_COMMAND"] = command;
        psi.Environment["CNI_PATH"] = CniPath;
        if (containerId is not null) psi.Environment["CNI_CONTAINERID"] = containerId;
        if (netns is not null) psi.Environment["CNI_NETNS"] = netns;
        if (ifName is not null && command is "ADD" or "DEL" or "CHECK") psi.Environment["CNI_IFNAME"] = ifName;
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        if (!p.WaitForExit(120_000)) { p.Kill(); throw new TimeoutException($"the plugin ({command}) did not finish within 120 s"); }
        p.WaitForExit();
        return new PluginRun(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Pings from a namespace; true when a reply came back.</summary>
    public static bool Ping(string ns, string address, int count = 3) =>
        Sh.Try("ip", "netns", "exec", ns, "ping", "-c", count.ToString(System.Globalization.CultureInfo.InvariantCulture), "-W", "2", address).Status == 0;

    /// <summary>The endpoints mvtapd holds for a network (from `-j link show -d`).</summary>
    public List<JsonElement> Endpoints(string network)
    {
        using var doc = JsonDocument.Parse(Daemon.MustCli("-j", "-d", "link", "show"));
        return [.. doc.RootElement.EnumerateArray()
            .Where(l => l.GetProperty("mvtap").TryGetProperty("cni", out var c) && c.GetProperty("network").GetString() == network)
            .Select(l => l.Clone())];
    }

    public void Dispose()
    {
        if (_daemon is not null)
        {
            try
            {
                using var doc = JsonDocument.Parse(_daemon.MustCli("-j", "link", "show"));
                foreach (var l in doc.RootElement.EnumerateArray()) _daemon.Cli("link", "del", l.GetProperty("ifname").GetString()!);
            }
            catch (Exception e) when (e is InvalidOperationException or JsonException) { /* the daemon is down: the namespaces go below */ }
            _daemon.Dispose();
        }
        _namespaces.Dispose();
        if (_lowerInHost) Sh.Try("ip", "link", "del", Lower);
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
