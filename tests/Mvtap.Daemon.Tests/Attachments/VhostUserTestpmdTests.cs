// vhost-user attachment points served by a real mvtapd, driven by real dpdk-testpmd virtio-user
// frontends (the guests): two macvtap endpoints in bridge mode, txonly on one and rxonly on
// the other. What testpmd says it sent is what mvtap counts as transmitted by the first
// endpoint, and what the second testpmd received is what mvtap delivered to it (delivered
// minus what its full ring refused). All waits are bounded; nothing depends on speed.
namespace Mvtap.Daemon.Tests.Attachments;

[Collection(TestpmdCollection.Name)]
public sealed class VhostUserTestpmdTests
{
    private const string MacA = "02:4d:56:00:00:0a", MacB = "02:4d:56:00:00:0b";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private static string Vdev(string path, int queues, string mac) => $"net_virtio_user0,path={path},queues={queues},mac={mac}";

    [Theory]
    [InlineData(64, 1)]
    [InlineData(1518, 1)]
    [InlineData(64, 2)]
    public void Frames_sent_by_one_testpmd_arrive_at_the_other_and_are_counted_equal(int size, int queues)
    {
        Assert.True(Testpmd.Available, $"{Testpmd.Binary} is missing (Debian dpdk-dev)");
        using var lab = new MacvtapLab();
        int a = lab.AddMacvtap("vta", MacA, "guestmem", "any"); // testpmd's --no-huge memfd is not sealed
        int b = lab.AddMacvtap("vtb", MacB, "guestmem", "any");
        Assert.True(File.Exists(lab.VhostPath(a)) && File.Exists(lab.VhostPath(b)), "tapN.vhost files");

        using var rx = Testpmd.Start(Vdev(lab.VhostPath(b), queues, MacB), "rxonly", queues, size, lcore: 1);
        rx.WaitForStats(Wait);
        using var tx = Testpmd.Start(Vdev(lab.VhostPath(a), queues, MacA), "txonly", queues, size, peer: MacB, lcore: 0, interactive: true);
        rx.WaitForPackets("RX-packets", 10_000, Wait);
        var (_, sent) = tx.StopForwarding(); // the port stays open: mvtap drains the rings
        var sender = lab.SettledStats("vta");
        var (received, _) = rx.Stop();
        var receiver = lab.SettledStats("vtb");

        Assert.True(sent > 0 && received > 0, $"sent {sent}, received {received}");
        Assert.Equal(sent, sender.TxPackets);
        Assert.Equal(0, sender.TxDropped);
        Assert.Equal(sender.TxPackets, receiver.RxPackets);
        Assert.Equal((long)size * receiver.RxPackets, receiver.RxBytes);
        Assert.Equal(received, receiver.RxDelivered);
    }

    [Fact]
    public void Testpmd_killed_and_restarted_mid_run_is_served_again()
    {
        Assert.True(Testpmd.Available, $"{Testpmd.Binary} is missing (Debian dpdk-dev)");
        using var lab = new MacvtapLab();
        int a = lab.AddMacvtap("vta", MacA, "guestmem", "any"); // testpmd's --no-huge memfd is not sealed
        int b = lab.AddMacvtap("vtb", MacB, "guestmem", "any");

        using var rx = Testpmd.Start(Vdev(lab.VhostPath(b), 1, MacB), "rxonly", lcore: 1);
        rx.WaitForStats(Wait);
        using (var first = Testpmd.Start(Vdev(lab.VhostPath(a), 1, MacA), "txonly", peer: MacB, lcore: 0))
        {
            rx.WaitForPackets("RX-packets", 10_000, Wait);
            first.Kill(); // gone mid-run, rings full of frames, no GET_VRING_BASE
        }
        var afterKill = lab.SettledStats("vtb").RxPackets;

        using var second = Testpmd.Start(Vdev(lab.VhostPath(a), 1, MacA), "txonly", peer: MacB, lcore: 0);
        second.WaitForStats(Wait);
        var deadline = DateTime.UtcNow + Wait;
        while (lab.Stats("vtb").RxPackets < afterKill + 10_000 && DateTime.UtcNow < deadline) Thread.Sleep(100);
        var (_, sent) = second.Stop();
        Assert.True(sent > 0, "the restarted frontend sent nothing");
        Assert.True(lab.SettledStats("vtb").RxPackets >= afterKill + 10_000, "frames from the restarted frontend did not arrive");

        // and the receiving side: kill it, start it again, it receives again
        rx.Kill();
        using var rx2 = Testpmd.Start(Vdev(lab.VhostPath(b), 1, MacB), "rxonly", lcore: 1);
        rx2.WaitForStats(Wait);
        using var third = Testpmd.Start(Vdev(lab.VhostPath(a), 1, MacA), "txonly", peer: MacB, lcore: 0);
        rx2.WaitForPackets("RX-packets", 10_000, Wait);
        third.Stop();
        var (received, _) = rx2.Stop();
        Assert.True(received >= 10_000);
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TestpmdCollection
{
    // testpmd frontends busy-poll a CPU each: never run two such tests at once on a 2-CPU box
    public const string Name = "testpmd";
}
