// The network a guest test runs in, in namespaces of its own (the shape of mvtap demo's lab):
// an external switch (a Linux bridge that can hairpin), an external host at 10.79.0.100 on it,
// and a host namespace holding the lower device plugged into the switch. Names carry a prefix
// unique to the test, so tests can run side by side; Dispose removes everything, and a test
// uses it in `using`, so every exit path cleans up.
namespace Mvtap.Guest.Tests;

internal sealed class GuestLab : IDisposable
{
    public const string Subnet = "10.79.0";
    public const string ExternalAddress = Subnet + ".100";
    public const string Lower = "low0";
    // The switch port that faces the lower; hairpin is a property of this port.
    private const string LowerPort = "pl";

    private static int _counter;
    private readonly NamespaceSet _namespaces = new();
    private readonly int _id;

    public GuestLab()
    {
        _id = Interlocked.Increment(ref _counter);
        Prefix = $"mvg{Environment.ProcessId % 10000}x{_id}";
        Dir = Directory.CreateTempSubdirectory($"{Prefix}-").FullName;
        try { Build(); }
        catch { Dispose(); throw; }
    }

    public string Prefix { get; }
    /// <summary>A private directory for the test's run/state directories and device nodes.</summary>
    public string Dir { get; }
    public string Switch => $"{Prefix}-sw";
    public string External => $"{Prefix}-ext";
    /// <summary>Where the lower device lives (mvtapd's --netns, the kernel macvtap's home).</summary>
    public string Host => $"{Prefix}-host";

    public static string GuestAddress(int i) => $"{Subnet}.{11 + i}";
    /// <summary>A locally administered unicast MAC, distinct per test and guest.</summary>
    public string GuestMac(int i) => $"52:54:{_id % 256:x2}:{Environment.ProcessId % 256:x2}:00:{11 + i:x2}";

    private void Build()
    {
        foreach (var ns in new[] { Switch, External, Host }) _namespaces.Add(ns, loopbackUp: true);
        Sh.Ip("-n", Switch, "link", "add", "br0", "type", "bridge");
        Sh.Ip("-n", Switch, "link", "set", "br0", "up");
        Plug(External, "eth0", "pe");
        Sh.Ip("-n", External, "addr", "add", $"{ExternalAddress}/24", "dev", "eth0");
        Plug(Host, Lower, LowerPort);
    }

    // A veth from a namespace into the switch's bridge.
    private void Plug(string ns, string name, string switchPort)
    {
        Sh.Ip("-n", Switch, "link", "add", switchPort, "type", "veth", "peer", "name", name, "netns", ns);
        Sh.Ip("-n", Switch, "link", "set", switchPort, "master", "br0", "up");
        Sh.Ip("-n", ns, "link", "set", name, "up");
    }

    /// <summary>Reflective relay on the switch port facing the lower (VEPA's partner).</summary>
    public void SetHairpin(bool on) =>
        Sh.Ip("-n", Switch, "link", "set", LowerPort, "type", "bridge_slave", "hairpin", on ? "on" : "off");

    /// <summary>The MAC the external host has learned for an address, or null (ARP proof that
    /// the guest itself, with its own MAC, answered on the segment).</summary>
    public string? ExternalNeighbour(string address)
    {
        var (_, output) = Sh.Try("ip", "-n", External, "neigh", "show", address);
        var words = output.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        int at = Array.IndexOf(words, "lladdr");
        return at >= 0 && at + 1 < words.Length ? words[at + 1] : null;
    }

    public void Dispose()
    {
        // Deleting a namespace deletes the interfaces in it, veth peers included.
        _namespaces.Dispose();
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
