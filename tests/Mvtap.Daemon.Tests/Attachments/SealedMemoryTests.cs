// mvtapd --require-sealed-memory: a vhost-user frontend whose guest memory could be truncated
// under the daemon (a file without F_SEAL_SHRINK, which would kill mvtapd with SIGBUS) is
// refused before anything is mapped; without the option it is served and the risk is logged.
// dpdk-testpmd's virtio-user memory (--no-huge: an unsealed memfd) is such a frontend.
namespace Mvtap.Daemon.Tests.Attachments;

[Collection(TestpmdCollection.Name)]
public sealed class SealedMemoryTests
{
    private const string MacA = "02:4d:56:00:01:0a", MacB = "02:4d:56:00:01:0b";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private static string Vdev(string path, string mac) => $"net_virtio_user0,path={path},queues=1,mac={mac}";

    private static bool WaitForOutput(MacvtapLab lab, string text)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (DateTime.UtcNow < deadline)
        {
            if (lab.Daemon.Output.Contains(text, StringComparison.Ordinal)) return true;
            Thread.Sleep(100);
        }
        return false;
    }

    [Fact]
    public void With_require_sealed_memory_a_frontend_with_unsealed_memory_is_refused_and_sends_nothing()
    {
        Assert.True(Testpmd.Available, $"{Testpmd.Binary} is missing (Debian dpdk-dev)");
        using var lab = new MacvtapLab("--require-sealed-memory");
        int a = lab.AddMacvtap("vta", MacA);

        using var tx = Testpmd.Start(Vdev(lab.VhostPath(a), MacA), "txonly", peer: MacB, lcore: 0);
        Assert.True(WaitForOutput(lab, "not sealed against shrinking (F_SEAL_SHRINK) and this backend requires it"), lab.Daemon.Output);
        Assert.Equal(0, lab.SettledStats("vta").TxPackets);
        // the daemon is still there and answers
        Assert.Equal(0, lab.Daemon.Cli("link", "show", "vta").Status);
    }

    [Fact]
    public void Without_the_option_the_same_frontend_is_served_and_the_risk_is_logged()
    {
        Assert.True(Testpmd.Available, $"{Testpmd.Binary} is missing (Debian dpdk-dev)");
        using var lab = new MacvtapLab();
        int a = lab.AddMacvtap("vta", MacA);

        using var tx = Testpmd.Start(Vdev(lab.VhostPath(a), MacA), "txonly", peer: MacB, lcore: 0);
        Assert.True(WaitForOutput(lab, "not sealed against shrinking"), lab.Daemon.Output);
        var deadline = DateTime.UtcNow + Wait;
        while (lab.Stats("vta").TxPackets == 0 && DateTime.UtcNow < deadline) Thread.Sleep(100);
        Assert.True(lab.Stats("vta").TxPackets > 0, "the frontend's frames did not arrive");
        Assert.DoesNotContain("requires it", lab.Daemon.Output);
    }
}
