// Hostile frontends on one macvtap endpoint of a real mvtapd while two testpmd guests forward
// through two others: garbage on the socket, an impossible message size, a ring pointing
// outside guest memory, and a second frontend on an endpoint that has one. The daemon stays
// up, the hostile sessions end or the device is marked broken, and the forwarding goes on.
using Mvtap.VhostUser.Net;
using Mvtap.VhostUser.Protocol;
using Mvtap.VhostUser.Tests.Frontend;

namespace Mvtap.Daemon.Tests.Attachments;

[Collection(TestpmdCollection.Name)]
public sealed class VhostUserHostileTests
{
    private const string MacA = "02:4d:56:00:01:0a", MacB = "02:4d:56:00:01:0b", MacC = "02:4d:56:00:01:0c";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private const ulong Features = VirtioNetFeatures.Version1 | VirtioNetFeatures.ProtocolFeatures;

    [Fact]
    public void Malformed_messages_and_rings_leave_the_daemon_up_and_other_endpoints_forwarding()
    {
        Assert.True(Testpmd.Available, $"{Testpmd.Binary} is missing (Debian dpdk-dev)");
        using var lab = new MacvtapLab();
        int a = lab.AddMacvtap("vta", MacA, "guestmem", "any"); // testpmd's --no-huge memfd is not sealed
        int b = lab.AddMacvtap("vtb", MacB, "guestmem", "any");
        int c = lab.AddMacvtap("vtc", MacC);

        using var rx = Testpmd.Start($"net_virtio_user0,path={lab.VhostPath(b)},queues=1,mac={MacB}", "rxonly", lcore: 1);
        rx.WaitForStats(Wait);
        using var tx = Testpmd.Start($"net_virtio_user0,path={lab.VhostPath(a)},queues=1,mac={MacA}", "txonly", peer: MacB, lcore: 0, interactive: true);
        rx.WaitForPackets("RX-packets", 10_000, Wait);

        // 1. garbage: not a vhost-user header at all → the session is closed
        using (var f = TestFrontend.Connect(lab.VhostPath(c)))
        {
            f.SendRaw(Enumerable.Range(0, 64).Select(i => (byte)(0xA5 ^ i)).ToArray());
            Assert.True(f.WaitForClose(), "garbage did not end the session");
        }

        // 2. a header announcing a payload far beyond any message → closed
        using (var f = TestFrontend.Connect(lab.VhostPath(c)))
        {
            var h = new byte[12];
            BitConverter.TryWriteBytes(h.AsSpan(0), (uint)VhostUserRequest.SetFeatures);
            BitConverter.TryWriteBytes(h.AsSpan(4), 1u);
            BitConverter.TryWriteBytes(h.AsSpan(8), 1u << 30);
            f.SendRaw(h);
            Assert.True(f.WaitForClose(), "an impossible size did not end the session");
        }

        // 3. a well-formed session whose TX ring points outside guest memory, kicked
        using (var f = TestFrontend.Connect(lab.VhostPath(c)))
        using (var memory = new TestGuestMemory())
        using (var rxRing = new TestVring(memory, 0))
        using (var txRing = new TestVring(memory, 1))
        {
            f.Negotiate(Features);
            Assert.Equal(0UL, f.SetMemTable(memory));
            f.StartVring(rxRing);
            f.StartVring(txRing);
            txRing.AddChain(new Seg(0x1000, 100)); // below the only region
            txRing.AddChain(new Seg(ulong.MaxValue - 10, 100));
            txRing.Kick();
            // the control channel still answers, then the frontend goes away
            f.Sync();
        }

        // 4. a second frontend on an endpoint that has one is refused, the first goes on
        using (var f = TestFrontend.Connect(lab.VhostPath(a)))
            Assert.True(f.WaitForClose(), "a second frontend was not refused");

        long before = lab.Stats("vtb").RxPackets;
        var deadline2 = DateTime.UtcNow + Wait;
        while (lab.Stats("vtb").RxPackets < before + 10_000 && DateTime.UtcNow < deadline2) Thread.Sleep(100);
        Assert.True(lab.Stats("vtb").RxPackets >= before + 10_000, "forwarding stopped after the hostile frontends");
        var (_, sent) = tx.StopForwarding();
        var (received, _) = rx.Stop();
        Assert.Equal(sent, lab.SettledStats("vta").TxPackets);
        Assert.Equal(received, lab.SettledStats("vtb").RxDelivered);
        Assert.Equal(0, lab.Daemon.Cli("link", "show", "vtc").Status);
        Assert.DoesNotContain("Unhandled exception", lab.Daemon.Output);
    }
}
