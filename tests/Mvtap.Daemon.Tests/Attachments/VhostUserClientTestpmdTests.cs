// mvtapd in the vhost-user client role (`vhost-user connect PATH`) against real dpdk-testpmd
// virtio-user frontends in server mode (server=1: testpmd listens on PATH, mvtapd dials): two
// macvtap endpoints in bridge mode, txonly behind one, rxonly behind the other, so every frame
// crosses mvtapd through two dialled sessions. Then the sending testpmd is killed and started
// again, and mvtapd itself is restarted under both: each time frames flow again without
// anything done to the other side. All waits are bounded; nothing depends on speed.
using System.Text.Json;

namespace Mvtap.Daemon.Tests.Attachments;

[Collection(TestpmdCollection.Name)]
public sealed class VhostUserClientTestpmdTests
{
    private const string MacA = "02:4d:56:00:01:0a", MacB = "02:4d:56:00:01:0b";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);

    private static string ServerVdev(string path, string mac) => $"net_virtio_user0,path={path},server=1,queues=1,mac={mac}";

    [Fact]
    public void Mvtapd_dials_listening_testpmds_and_frames_flow_again_after_either_side_restarts()
    {
        Assert.True(Testpmd.Available, $"{Testpmd.Binary} is missing (Debian dpdk-dev)");
        var dir = Directory.CreateTempSubdirectory("mvtap-vuc-").FullName;
        try
        {
            string pathA = Path.Combine(dir, "a.sock"), pathB = Path.Combine(dir, "b.sock");
            using var lab = new MacvtapLab();
            // testpmd's --no-huge memfd is not sealed; testpmd runs as root, the allowed peer of an endpoint without owner
            lab.AddMacvtap("vca", MacA, "guestmem", "any", "vhost-user", "connect", pathA);
            lab.AddMacvtap("vcb", MacB, "guestmem", "any", "vhost-user", "connect", pathB);
            Assert.Contains($"vhost-user connect {pathA} dialling", lab.Daemon.Cli("-d", "link", "show", "vca").Out);

            using var rx = Testpmd.Start(ServerVdev(pathB, MacB), "rxonly", lcore: 1);
            rx.WaitForStats(Wait);
            var tx = Testpmd.Start(ServerVdev(pathA, MacA), "txonly", peer: MacB, lcore: 0);
            try
            {
                rx.WaitForPackets("RX-packets", 10_000, Wait);
                Assert.True(Connected(lab, "vca") && Connected(lab, "vcb"), lab.Daemon.Cli("-d", "link", "show").Out);
                Assert.Contains($"vhost-user connect {pathA} connected", lab.Daemon.Cli("-d", "link", "show", "vca").Out);

                // the frontend vanishes and comes back on the same path: mvtapd dials it again by itself
                tx.Kill();
                tx.Dispose();
                // a killed testpmd leaves its socket file, and virtio-user's bind does not replace it (QEMU's does)
                File.Delete(pathA);
                var before = lab.SettledStats("vcb").RxPackets;
                tx = Testpmd.Start(ServerVdev(pathA, MacA), "txonly", peer: MacB, lcore: 0);
                WaitFor(() => lab.Stats("vcb").RxPackets >= before + 10_000, "frames from the restarted testpmd", lab);

                // mvtapd restarts under both running frontends: it restores the role and dials both again
                lab.Daemon.Restart();
                WaitFor(() => lab.Stats("vcb").RxPackets >= 10_000, "frames after mvtapd restarted", lab);
                Assert.True(Connected(lab, "vca") && Connected(lab, "vcb"));
                Assert.Contains("vhost-user connect", lab.Daemon.Cli("-d", "link", "show", "vca").Out);
                var (_, sent) = tx.Stop();
                Assert.True(sent > 0);
            }
            finally
            {
                tx.Dispose();
            }
            var (received, _) = rx.Stop();
            Assert.True(received >= 10_000, $"testpmd received {received}");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static bool Connected(MacvtapLab lab, string name)
    {
        using var doc = JsonDocument.Parse(lab.Daemon.Cli("-j", "-d", "link", "show", name).Out);
        var m = doc.RootElement[0].GetProperty("mvtap");
        return m.GetProperty("vhost_user_mode").GetString() == "connect" && m.GetProperty("vhost_user_connected").GetBoolean();
    }

    private static void WaitFor(Func<bool> condition, string what, MacvtapLab lab)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"no {what}:\n{lab.Daemon.Cli("-d", "link", "show").Out}\n{lab.Daemon.Output}");
            Thread.Sleep(200);
        }
    }
}
