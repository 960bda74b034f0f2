// The client role (mvtapd dials the frontend) against peers that are not a frontend to serve: a
// server that sends garbage, one that closes at once, one that accepts and never speaks, a path
// that is not a socket or is a symlink, and a listener running as someone other than the
// endpoint's owner. Each is counted, logged and dialled again with backoff, nothing is written
// to what is not a socket, and a real frontend listening afterwards is still served.
using System.Collections.Concurrent;
using System.Net.Sockets;
using Mvtap.Linux.Interop;
using Mvtap.VhostUser.Net;
using Mvtap.VhostUser.Tests.Frontend;

namespace Mvtap.VhostUser.Tests;

public sealed class ClientRoleHostilePeerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mvtap-vuc-").FullName;
    private readonly ConcurrentQueue<string> _log = new();
    private readonly VhostUserNetBackend _backend;

    public ClientRoleHostilePeerTests() => _backend = new VhostUserNetBackend(1, _log.Enqueue);

    public void Dispose()
    {
        _backend.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private string SocketPath => Path.Combine(_dir, "qemu.sock");

    private VhostUserEndpoint Dialler(int ownerUid = -1, bool rootPeer = true) => new(_backend, SocketPath, VhostUserRole.Client, _log.Enqueue)
    {
        RedialInterval = TimeSpan.FromMilliseconds(20),
        MaxRedialInterval = TimeSpan.FromMilliseconds(200),
        FirstMessageTimeout = TimeSpan.FromMilliseconds(300),
        OwnerUid = ownerUid,
        AllowRootPeer = rootPeer,
    };

    private Socket Listen()
    {
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        listener.Listen(4);
        return listener;
    }

    private static Socket Accept(Socket listener)
    {
        Assert.True(listener.Poll(TestFrontend.Timeout, SelectMode.SelectRead), "mvtapd dialled");
        return listener.Accept();
    }

    private static void Eventually(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TestFrontend.Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, what);
            Thread.Sleep(10);
        }
    }

    [Fact]
    public void Garbage_an_instant_close_and_silence_are_counted_and_dialled_again_and_a_real_frontend_is_still_served()
    {
        using var listener = Listen();
        using var endpoint = Dialler();
        endpoint.Start();

        using (var garbage = Accept(listener))
        {
            var bytes = new byte[64];
            new Random(7).NextBytes(bytes);
            garbage.Send(bytes);
            Eventually(() => _backend.Counters.ProtocolErrors >= 1, "garbage ended the session as a protocol error");
        }
        Accept(listener).Dispose(); // accepts and closes at once
        using (var silent = Accept(listener))
        {
            Eventually(() => endpoint.SilentPeers >= 1, "the silent peer was hung up on");
            Assert.Equal(0, silent.Receive(new byte[1])); // mvtapd closed it
        }
        Assert.Contains(_log, l => l.Contains("said nothing", StringComparison.Ordinal));

        using var f = new TestFrontend(Accept(listener));
        using var m = new TestGuestMemory();
        using var rx = new TestVring(m, 0);
        using var tx = new TestVring(m, 1);
        f.StartQueuePair(m, rx, tx);
        Eventually(() => _backend.IsQueuePairReady(0), "the real frontend was served");
        Assert.True(endpoint.Sessions >= 3);
    }

    [Fact]
    public void What_is_not_a_socket_or_is_a_symlink_is_never_dialled()
    {
        File.WriteAllText(SocketPath, "not a socket");
        using (var endpoint = Dialler())
        {
            endpoint.Start();
            Eventually(() => endpoint.PeersRefused >= 2, "the file was refused");
            Assert.Contains("is not a socket", endpoint.DialProblem);
        }
        Assert.Equal("not a socket", File.ReadAllText(SocketPath));
        File.Delete(SocketPath);

        string real = Path.Combine(_dir, "real.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(real));
        listener.Listen(4);
        File.CreateSymbolicLink(SocketPath, real);
        using (var endpoint = Dialler())
        {
            endpoint.Start();
            Eventually(() => endpoint.PeersRefused >= 2, "the symlink was refused");
        }
        Assert.False(listener.Poll(0, SelectMode.SelectRead), "mvtapd connected through a symlink");
    }

    [Fact]
    public void A_peer_running_as_someone_other_than_the_owner_is_hung_up_on()
    {
        // the listener is this process (root); the endpoint serves only uid 4242, whose socket file it is
        using var listener = Listen();
        UnixSocket.SetOwner(SocketPath, 4242, 4242);
        using var endpoint = Dialler(ownerUid: 4242, rootPeer: false);
        endpoint.Start();
        using (var peer = Accept(listener))
        {
            Eventually(() => endpoint.PeersRefused >= 1, "the peer's uid was refused");
            Assert.Equal(0, peer.Receive(new byte[1]));
        }
        Assert.Contains("runs as uid 0", endpoint.DialProblem);
        Assert.Equal(0, endpoint.Sessions);
        Assert.Equal(0, _backend.Counters.Connections);
    }
}
