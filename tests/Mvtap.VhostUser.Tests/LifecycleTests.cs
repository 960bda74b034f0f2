// Ring stop/start, frontend reconnects (QEMU reconnect=N, virtio-user server=1), the backend
// in client role, and a daemon restart over a stale socket file.
using System.Net.Sockets;
using Mvtap.VhostUser.Net;
using Mvtap.VhostUser.Protocol;
using Mvtap.VhostUser.Tests.Frontend;

namespace Mvtap.VhostUser.Tests;

public class LifecycleTests
{
    private static void GuestSends(TestGuestMemory m, TestVring tx, int n, int seed = 0)
    {
        for (int i = 0; i < n; i++)
        {
            var bytes = Frames.Concat(Frames.Header(), Frames.Make(60, seed + i));
            tx.AddChain(new Seg(m.Put(bytes), (uint)bytes.Length));
        }
    }

    [Fact]
    public void GetVringBase_returns_the_next_avail_index_and_stops_the_ring()
    {
        using var h = new BackendHarness();
        var (f, m, rings) = h.Up(Feature.Basic);
        GuestSends(m, rings[1], 3);
        var batch = new FrameBatch(8);
        Assert.Equal(3, h.Backend.ReceiveFromGuest(0, batch));

        var state = f.GetVringBase(1);
        Assert.Equal(1u, state.Index);
        Assert.Equal(3u, state.Num);
        Assert.False(h.Backend.GetVringStatus(1).Started);
        Assert.Equal(-1, h.Backend.GetKickFd(1));

        GuestSends(m, rings[1], 1, seed: 10);
        Assert.Equal(0, h.Backend.ReceiveFromGuest(0, batch));   // stopped: not touched

        // Restart where it stopped, as QEMU does after a guest reset.
        f.StartVring(rings[1], lastAvail: 3);
        Assert.Equal(1, h.Backend.ReceiveFromGuest(0, batch));
        Assert.Equal(Frames.Make(60, 10), batch.Frame(0).ToArray());
        Assert.Equal(4, rings[1].UsedIdx);
    }

    [Fact]
    public void After_a_disconnect_a_new_frontend_negotiates_again_and_traffic_flows()
    {
        using var h = new BackendHarness();
        var (f, m, rings) = h.Up(Feature.Mrg);
        GuestSends(m, rings[1], 1);
        Assert.Equal(1, h.Backend.ReceiveFromGuest(0, new FrameBatch(2)));
        f.Dispose();
        BackendHarness.WaitUntil(() => !h.Backend.IsConnected, "backend noticed the disconnect");
        Assert.Equal(0UL, h.Backend.AckedFeatures);
        Assert.False(h.Backend.IsQueuePairReady(0));

        var (_, m2, rings2) = h.Up(Feature.Offloads);
        GuestSends(m2, rings2[1], 2, seed: 20);
        var batch = new FrameBatch(4);
        Assert.Equal(2, h.Backend.ReceiveFromGuest(0, batch));
        Assert.Equal(Frames.Make(60, 21), batch.Frame(1).ToArray());
        Assert.Equal(2, h.Backend.Counters.Connections);
        Assert.Equal(1, h.Backend.Counters.Disconnects);
        Assert.Equal(2, h.Endpoint.Sessions);
    }

    [Fact]
    public void Reconnect_with_base_0_resynchronises_to_the_guests_used_index()
    {
        // DPDK virtio-user in server mode re-sends everything with SET_VRING_BASE 0 while the
        // guest's rings (and their indices) live on.
        using var h = new BackendHarness();
        var f = h.Connect();
        using var m = new TestGuestMemory();
        using var rx = new TestVring(m, 0);
        using var tx = new TestVring(m, 1);
        f.StartQueuePair(m, rx, tx);
        GuestSends(m, tx, 5);
        Assert.Equal(5, h.Backend.ReceiveFromGuest(0, new FrameBatch(8)));
        f.Dispose();
        BackendHarness.WaitUntil(() => !h.Backend.IsConnected, "disconnect");

        var f2 = h.Connect();
        f2.Negotiate(Feature.Mrg);
        f2.SetMemTable(m);
        f2.StartVring(rx, lastAvail: 0);
        f2.StartVring(tx, lastAvail: 0);
        Assert.Equal(5, h.Backend.GetVringStatus(1).LastAvail);
        Assert.Contains(h.Log, l => l.Contains("resynchronised"));

        GuestSends(m, tx, 1, seed: 50);
        var batch = new FrameBatch(8);
        Assert.Equal(1, h.Backend.ReceiveFromGuest(0, batch));   // only the new frame, no replays
        Assert.Equal(Frames.Make(60, 50), batch.Frame(0).ToArray());
        Assert.Equal(6, tx.UsedIdx);
    }

    [Fact]
    public void Client_role_dials_the_frontend_and_dials_again_after_it_drops()
    {
        var dir = Directory.CreateTempSubdirectory("mvtap-vu-").FullName;
        string path = Path.Combine(dir, "qemu.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        using var h = new BackendHarness(role: VhostUserRole.Client, socketPath: path);

        for (int round = 0; round < 2; round++)
        {
            Assert.True(listener.Poll(TestFrontend.Timeout, SelectMode.SelectRead), "backend dialled");
            using var f = new TestFrontend(listener.Accept());
            using var m = new TestGuestMemory();
            using var rx = new TestVring(m, 0);
            using var tx = new TestVring(m, 1);
            f.StartQueuePair(m, rx, tx);
            GuestSends(m, tx, 1, seed: round);
            var batch = new FrameBatch(2);
            Assert.Equal(1, h.Backend.ReceiveFromGuest(0, batch));
            Assert.Equal(Frames.Make(60, round), batch.Frame(0).ToArray());
        }
        Assert.True(h.Endpoint.Sessions >= 2);
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void A_restarted_daemon_replaces_a_stale_socket_file_and_serves_again()
    {
        var dir = Directory.CreateTempSubdirectory("mvtap-vu-").FullName;
        string path = Path.Combine(dir, "tap0.vhost");
        // What a crashed daemon leaves behind: a bound socket file nobody listens on.
        // (.NET's Socket would unlink its file on close; the raw socket does not, like a crash.)
        using (var stale = Mvtap.Linux.Interop.UnixSocket.Create())
            Mvtap.Linux.Interop.UnixSocket.Bind(stale, path);
        Assert.True(File.Exists(path));

        using var h = new BackendHarness(socketPath: path);
        var (_, m, rings) = h.Up(Feature.Mrg);
        GuestSends(m, rings[1], 1);
        Assert.Equal(1, h.Backend.ReceiveFromGuest(0, new FrameBatch(1)));
        h.Dispose();
        Assert.False(File.Exists(path));
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void Disposing_the_endpoint_ends_a_running_session()
    {
        var h = new BackendHarness();
        var (f, _, _) = h.Up(Feature.Basic);
        h.Endpoint.Dispose();
        Assert.True(f.WaitForClose());
        Assert.False(h.Backend.IsConnected);
        h.Dispose();
    }

    [Fact]
    public void Reset_owner_stops_everything()
    {
        using var h = new BackendHarness();
        var (f, _, _) = h.Up(Feature.Basic);
        Assert.True(h.Backend.IsQueuePairReady(0));
        f.Request(VhostUserRequest.ResetOwner, []);
        f.Sync();
        Assert.False(h.Backend.IsQueuePairReady(0));
    }

    [Fact]
    public void Socket_file_gets_its_mode_and_owner()
    {
        var dir = Directory.CreateTempSubdirectory("mvtap-vu-").FullName;
        string path = Path.Combine(dir, "tap3.vhost");
        using var backend = new VhostUserNetBackend();
        using (var endpoint = new VhostUserEndpoint(backend, path) { OwnerUid = 65534, OwnerGid = 65534 })
        {
            endpoint.Start();
            var psi = new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%a %u:%g", path]) { RedirectStandardOutput = true };
            using var p = System.Diagnostics.Process.Start(psi)!;
            string owner = p.StandardOutput.ReadToEnd().Trim();
            Assert.True(p.WaitForExit(TestFrontend.Timeout));
            Assert.Equal("660 65534:65534", owner);
        }
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void GetVringBase_while_a_datapath_thread_runs_returns_exactly_what_was_consumed()
    {
        using var h = new BackendHarness();
        var (f, m, rings) = h.Up(Feature.Basic, size: 1024);
        var bytes = Frames.Concat(Frames.Header(), Frames.Make(60));
        ulong payload = m.Put(bytes);
        for (int i = 0; i < 1000; i++) rings[1].AddChain(new Seg(payload, (uint)bytes.Length));

        int received = 0;
        using var stop = new ManualResetEventSlim();
        var worker = new Thread(() =>
        {
            var batch = new FrameBatch(1, frameCapacity: 256);
            while (!stop.IsSet) received += h.Backend.ReceiveFromGuest(0, batch);
        });
        worker.Start();
        BackendHarness.WaitUntil(() => Volatile.Read(ref received) > 0, "the datapath started consuming");
        uint stoppedAt = f.GetVringBase(1).Num;
        stop.Set();
        Assert.True(worker.Join(TestFrontend.Timeout));

        // The worker kept calling after the reply: it consumed nothing more, and the index QEMU
        // got is exactly what was consumed and published.
        Assert.Equal((int)stoppedAt, received);
        Assert.Equal(stoppedAt, (uint)rings[1].UsedIdx);
        Assert.True(stoppedAt < 1000 || received == 1000);
    }
}
