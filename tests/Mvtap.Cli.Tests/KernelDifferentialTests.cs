// Differential test with iproute2 (issue 4): the same sequence of link commands goes through
// `mvtap --kernel` in namespace A and through `ip link` in namespace B; after every step
// `mvtap --kernel -j -d link show` and `ip -j -d link show` must agree on every field both print,
// for every macvlan/macvtap. Both namespaces are built alike (lo, l0/l0p), so even ifindex values
// agree; MACs are explicit so they do too. The qdisc is the kernel's own (IFLA_QDISC).
using System.Text.Json;

namespace Mvtap.Cli.Tests;

public sealed class KernelDifferentialTests
{
    private static readonly string[][] Sequence =
    [
        ["link", "add", "link", "l0", "name", "t0", "address", "02:aa:00:00:00:01", "type", "macvtap"],
        ["link", "add", "link", "l0", "name", "v0", "address", "02:aa:00:00:00:02", "type", "macvlan", "mode", "bridge"],
        ["link", "set", "t0", "address", "02:aa:00:00:00:03"],
        ["link", "set", "t0", "up"],
        ["link", "set", "v0", "up"],
        ["link", "set", "v0", "type", "macvlan", "mode", "private"],
        ["link", "add", "link", "l0", "name", "s0", "address", "02:aa:00:00:00:04", "type", "macvlan", "mode", "source"],
        ["link", "set", "s0", "type", "macvlan", "macaddr", "add", "02:bb:00:00:00:01"],
        ["link", "set", "s0", "type", "macvlan", "macaddr", "set", "02:bb:00:00:00:02", "02:bb:00:00:00:03"],
        ["link", "set", "v0", "type", "macvlan", "bcqueuelen", "50"],
        ["link", "set", "t0", "down"],
        ["link", "del", "v0"],
        ["link", "del", "t0"],
    ];

    [Fact]
    public void Mvtap_kernel_and_ip_agree_after_every_step()
    {
        Assert.True(TestHost.IsRoot, "drives the kernel through rtnetlink: run as root (CI does)");
        using var a = new ThrowawayNamespace();
        using var b = new ThrowawayNamespace();
        foreach (var step in Sequence)
        {
            var ours = a.Mvtap(step);
            Assert.True(ours.Exit == 0, $"mvtap --kernel {string.Join(' ', step)}: {ours.Stderr}");
            b.Ip(step);
            AssertAgree(a, b, string.Join(' ', step));
        }
    }

    // operstate follows `up` through the kernel's linkwatch, asynchronously: allow it to settle
    private static void AssertAgree(ThrowawayNamespace a, ThrowawayNamespace b, string after)
    {
        List<string> differences = [];
        for (var deadline = DateTime.UtcNow.AddSeconds(5); ;)
        {
            differences = Differences(a, b);
            if (differences.Count == 0 || DateTime.UtcNow > deadline) break;
            Thread.Sleep(100);
        }
        Assert.True(differences.Count == 0, $"after \"{after}\":\n" + string.Join('\n', differences));
    }

    private static List<string> Differences(ThrowawayNamespace a, ThrowawayNamespace b)
    {
        var shown = a.Mvtap("-j", "-d", "link", "show");
        if (shown.Exit != 0) return [$"mvtap show failed: {shown.Stderr}"];
        using var ours = JsonDocument.Parse(shown.Stdout);
        using var theirs = JsonDocument.Parse(b.Ip("-j", "-d", "link", "show"));
        var kernelLinks = theirs.RootElement.EnumerateArray()
            .Where(l => l.TryGetProperty("linkinfo", out var li) && li.GetProperty("info_kind").GetString() is "macvlan" or "macvtap")
            .ToDictionary(l => l.GetProperty("ifname").GetString()!);
        var ourLinks = ours.RootElement.EnumerateArray().ToDictionary(l => l.GetProperty("ifname").GetString()!);

        var differences = new List<string>();
        if (!kernelLinks.Keys.Order().SequenceEqual(ourLinks.Keys.Order()))
            differences.Add($"links: mvtap [{string.Join(',', ourLinks.Keys.Order())}], ip [{string.Join(',', kernelLinks.Keys.Order())}]");
        foreach (var (name, o) in ourLinks)
            if (kernelLinks.TryGetValue(name, out var k)) Compare(o, k, name, differences);
        return differences;
    }

    /// <summary>Every property both objects have must be equal; arrays element by element.</summary>
    private static void Compare(JsonElement ours, JsonElement ip, string path, List<string> differences)
    {
        if (ours.ValueKind == JsonValueKind.Object && ip.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in ours.EnumerateObject())
                if (ip.TryGetProperty(p.Name, out var other)) Compare(p.Value, other, $"{path}.{p.Name}", differences);
            return;
        }
        if (ours.ValueKind == JsonValueKind.Array && ip.ValueKind == JsonValueKind.Array
            && ours.GetArrayLength() == ip.GetArrayLength() && path.EndsWith(".macaddr_data"))
        {
            // the kernel dumps the source list in hash order; the set is what matters
            var o = ours.EnumerateArray().Select(e => e.GetRawText()).Order();
            var i = ip.EnumerateArray().Select(e => e.GetRawText()).Order();
            if (!o.SequenceEqual(i)) differences.Add($"{path}: mvtap {ours.GetRawText()}, ip {ip.GetRawText()}");
            return;
        }
        if (ours.GetRawText() != ip.GetRawText())
            differences.Add($"{path}: mvtap {ours.GetRawText()}, ip {ip.GetRawText()}");
    }
}
