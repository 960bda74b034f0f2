// The demo's lab, built in network namespaces of its own: an external switch (a Linux bridge
// that can hairpin) with an external host, and two lower devices plugged into it, one for
// mvtap and one for the kernel's macvtap, each with three guests A, B, C. Everything it makes
// carries a unique prefix and is removed by Dispose, on every exit path.
namespace Mvtap.Cli.Demo;

internal sealed class NamespaceLab : IDisposable
{
    public const string Subnet = "10.79.0";
    public static readonly string[] Guests = ["A", "B", "C"];

    private readonly List<string> _namespaces = [];

    public NamespaceLab()
    {
        Prefix = $"mvd{Environment.ProcessId % 100000}";
        try { Build(); }
        catch { Dispose(); throw; }
    }

    public string Prefix { get; }
    public string Switch => $"{Prefix}-sw";
    public string External => $"{Prefix}-ext";
    /// <summary>Where the lower devices live: mvtapd runs its datapath here.</summary>
    public string Host => $"{Prefix}-host";
    public const string MvtapLower = "lowm";
    public const string KernelLower = "lowk";
    public string MvtapGuest(string g) => $"{Prefix}-m{g}";
    public string KernelGuest(string g) => $"{Prefix}-k{g}";
    public static string MvtapAddress(int i) => $"{Subnet}.{11 + i}";
    public static string KernelAddress(int i) => $"{Subnet}.{21 + i}";
    public const string ExternalAddress = Subnet + ".100";
    /// <summary>The host port's address, in the host namespace (where mvtapd runs).</summary>
    public const string HostPortAddress = Subnet + ".1";

    private void AddNamespace(string name)
    {
        Shell.Ip("netns", "add", name);
        _namespaces.Add(name);
        Shell.Ip("-n", name, "link", "set", "lo", "up");
    }

    private void Build()
    {
        foreach (var ns in new[] { Switch, External, Host }) AddNamespace(ns);
        foreach (var g in Guests) { AddNamespace(MvtapGuest(g)); AddNamespace(KernelGuest(g)); }

        Shell.Ip("-n", Switch, "link", "add", "br0", "type", "bridge");
        Shell.Ip("-n", Switch, "link", "set", "br0", "up");
        Plug(External, "eth0", "pe");
        Shell.Ip("-n", External, "addr", "add", $"{ExternalAddress}/24", "dev", "eth0");
        Plug(Host, MvtapLower, "pm");
        Plug(Host, KernelLower, "pk");
    }

    // A veth from a namespace into the switch's bridge.
    private void Plug(string ns, string name, string switchPort)
    {
        Shell.Ip("-n", Switch, "link", "add", switchPort, "type", "veth", "peer", "name", name, "netns", ns);
        Shell.Ip("-n", Switch, "link", "set", switchPort, "master", "br0", "up");
        Shell.Ip("-n", ns, "link", "set", name, "up");
    }

    /// <summary>Reflective relay on the switch ports facing the two lowers.</summary>
    public void SetHairpin(bool on)
    {
        foreach (var port in new[] { "pm", "pk" })
            Shell.Ip("-n", Switch, "link", "set", port, "type", "bridge_slave", "hairpin", on ? "on" : "off");
    }

    /// <summary>The kernel's guests: a macvtap on the kernel lower, moved into each guest's
    /// namespace (with no queue open a macvtap hands frames to its own stack, spec 5.10).</summary>
    public void CreateKernelGuests(string mode)
    {
        for (int i = 0; i < Guests.Length; i++)
        {
            var ns = KernelGuest(Guests[i]);
            Shell.Ip("-n", Host, "link", "add", "link", KernelLower, "name", $"kv{i}", "type", "macvtap", "mode", mode);
            Shell.Ip("-n", Host, "link", "set", $"kv{i}", "netns", ns);
            Shell.Ip("-n", ns, "link", "set", $"kv{i}", "name", "eth0");
            Shell.Ip("-n", ns, "addr", "add", $"{KernelAddress(i)}/24", "dev", "eth0");
            Shell.Ip("-n", ns, "link", "set", "eth0", "up");
        }
    }

    public void SetKernelMode(string mode)
    {
        for (int i = 0; i < Guests.Length; i++)
            Shell.Ip("-n", KernelGuest(Guests[i]), "link", "set", "eth0", "type", "macvtap", "mode", mode);
    }

    /// <summary>mvtap's guests: each a macvlan endpoint whose interface mvtapd created in the
    /// guest's namespace; here it only gets its address.</summary>
    public void ConfigureMvtapGuest(int i, string device)
    {
        var ns = MvtapGuest(Guests[i]);
        Shell.Ip("-n", ns, "addr", "add", $"{MvtapAddress(i)}/24", "dev", device);
        Shell.Ip("-n", ns, "link", "set", device, "up");
    }

    /// <summary>mvtap's host port: an interface mvtapd made in the host namespace; here it gets its address.</summary>
    public void ConfigureHostPort(string device)
    {
        Shell.Ip("-n", Host, "addr", "add", $"{HostPortAddress}/24", "dev", device);
        Shell.Ip("-n", Host, "link", "set", device, "up");
    }

    /// <summary>Forget learned neighbours and MACs, so each scenario starts cold.</summary>
    public void Forget()
    {
        foreach (var ns in _namespaces) Shell.Run("ip", "-n", ns, "neigh", "flush", "all");
        Shell.Run("ip", "-n", Switch, "link", "set", "br0", "type", "bridge", "ageing_time", "0");
        Shell.Run("ip", "-n", Switch, "link", "set", "br0", "type", "bridge", "ageing_time", "30000");
    }

    public void Dispose()
    {
        // Deleting a namespace deletes the interfaces in it, veth peers included.
        for (int i = _namespaces.Count - 1; i >= 0; i--) Shell.Run("ip", "netns", "del", _namespaces[i]);
        _namespaces.Clear();
    }
}
