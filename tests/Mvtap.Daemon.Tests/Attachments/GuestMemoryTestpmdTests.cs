// `guestmem` with a real frontend whose guest memory can shrink: dpdk-testpmd's virtio-user
// (--no-huge backs its memory with a memfd that is not sealed). Under the default, guestmem
// sealed, it is refused before anything is mapped (logged; it sends nothing; the daemon goes
// on); with guestmem any it is served and the risk is logged; `link set ... guestmem sealed`
// disconnects it again, and the setting is shown and saved.
using System.Text.Json;

namespace Mvtap.Daemon.Tests.Attachments;

[Collection(TestpmdCollection.Name)]
public sealed class GuestMemoryTestpmdTests
{
    private const string MacA = "02:4d:56:00:01:0a", MacB = "02:4d:56:00:01:0b";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private static string Vdev(string path, string mac) => $"net_virtio_user0,path={path},queues=1,mac={mac}";

    private static bool WaitFor(Func<bool> condition) => TestNet.Eventually(condition, Wait);

    private static string GuestMemoryShown(MacvtapLab lab, string name)
    {
        using var doc = JsonDocument.Parse(lab.Daemon.Cli("-j", "-d", "link", "show", name).Out);
        return doc.RootElement[0].GetProperty("mvtap").GetProperty("guestmem").GetString()!;
    }

    [Fact]
    public void By_default_testpmd_with_unsealed_memory_is_refused_and_sends_nothing()
    {
        Assert.True(Testpmd.Available, $"{Testpmd.Binary} is missing (Debian dpdk-dev)");
        using var lab = new MacvtapLab();
        int a = lab.AddMacvtap("vta", MacA);
        Assert.Equal("sealed", GuestMemoryShown(lab, "vta"));

        using var tx = Testpmd.Start(Vdev(lab.VhostPath(a), MacA), "txonly", peer: MacB, lcore: 0);
        Assert.True(WaitFor(() => lab.Daemon.Output.Contains("the endpoint maps only sealed guest memory (guestmem sealed", StringComparison.Ordinal)),
            lab.Daemon.Output);
        Assert.Equal(0, lab.SettledStats("vta").TxPackets);
        Assert.False(lab.Daemon.HasExited, lab.Daemon.Output);
        Assert.Equal(0, lab.Daemon.Cli("link", "show", "vta").Status);
    }

    [Fact]
    public void With_guestmem_any_testpmd_is_served_until_the_endpoint_is_set_back_to_sealed()
    {
        Assert.True(Testpmd.Available, $"{Testpmd.Binary} is missing (Debian dpdk-dev)");
        using var lab = new MacvtapLab();
        int a = lab.AddMacvtap("vta", MacA, "guestmem", "any");
        Assert.Equal("any", GuestMemoryShown(lab, "vta"));
        Assert.Contains("guestmem any", lab.Daemon.Cli("-d", "link", "show", "vta").Out);
        Assert.Contains("\"guest_memory\": \"any\"", File.ReadAllText(Path.Combine(lab.Daemon.StateDir, "state.json")));

        using var tx = Testpmd.Start(Vdev(lab.VhostPath(a), MacA), "txonly", peer: MacB, lcore: 0);
        Assert.True(WaitFor(() => lab.Daemon.Output.Contains("not sealed against shrinking", StringComparison.Ordinal)), lab.Daemon.Output);
        Assert.True(WaitFor(() => lab.Stats("vta").TxPackets > 0), "the frontend's frames did not arrive");
        Assert.DoesNotContain("guestmem sealed", lab.Daemon.Output);

        var set = lab.Daemon.Cli("link", "set", "vta", "guestmem", "sealed");
        Assert.True(set.Status == 0, set.Err);
        Assert.True(WaitFor(() => lab.Daemon.Output.Contains("closing the session", StringComparison.Ordinal)), lab.Daemon.Output);
        Assert.True(WaitFor(() => lab.Daemon.Output.Contains("vhost-user net: session ended", StringComparison.Ordinal)), lab.Daemon.Output);
        lab.SettledStats("vta"); // nothing more comes in
        Assert.Equal("sealed", GuestMemoryShown(lab, "vta"));
        Assert.False(lab.Daemon.HasExited, lab.Daemon.Output);
    }
}
