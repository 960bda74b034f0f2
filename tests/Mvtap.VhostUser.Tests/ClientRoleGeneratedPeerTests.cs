// The client role (mvtapd dials the frontend) against generated hostile servers, one per dial: each
// answers the connect with a few generated messages — real request codes and unknown ones, sizes
// that lie (zero, short, huge), payloads of random bytes, flags with and without the version and
// reply bits, and up to ten descriptors attached (memfds and eventfds, more than a message may
// carry) — then hangs up, or half-closes and waits until mvtapd hangs up. Every session ends,
// the dial loop keeps going (bounded by its backoff), not one of the
// descriptors the servers sent stays open in mvtapd afterwards, no mapping of them remains, and a
// real frontend listening after them is served.
using System.Collections.Concurrent;
using System.Net.Sockets;
using Mvtap.Linux.Interop;
using Mvtap.VhostUser.Net;
using Mvtap.VhostUser.Protocol;
using Mvtap.VhostUser.Tests.Frontend;

namespace Mvtap.VhostUser.Tests;

public sealed class ClientRoleGeneratedPeerTests : IDisposable
{
    private const int Servers = 60;
    private readonly string _dir = Directory.CreateTempSubdirectory("mvtap-vugen-").FullName;
    private readonly string _marker = $"mvtap-vugen-{Environment.ProcessId}-{Random.Shared.Next():x}";
    private readonly ConcurrentQueue<string> _log = new();
    private readonly VhostUserNetBackend _backend;

    public ClientRoleGeneratedPeerTests() => _backend = new VhostUserNetBackend(1, _log.Enqueue);

    public void Dispose()
    {
        _backend.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private string SocketPath => Path.Combine(_dir, "qemu.sock");

    // requests a frontend really sends, and codes nobody defined
    private static readonly uint[] Requests = [1, 2, 3, 5, 6, 8, 9, 10, 11, 12, 13, 15, 16, 17, 18, 24, 36, 0, 40, 99, 0xffffffff];

    private byte[] Generate(Random rng, out int[] fds, List<FileDescriptor> owned)
    {
        uint request = Requests[rng.Next(Requests.Length)];
        uint flags = rng.Next(4) switch { 0 => VhostUserHeader.Version, 1 => VhostUserHeader.Version | VhostUserHeader.NeedReplyFlag, 2 => 0x5, _ => (uint)rng.Next() };
        int body = rng.Next(5) switch { 0 => 0, 1 => 8, 2 => 40, 3 => 8 + 32 * rng.Next(1, 9), _ => rng.Next(0, 600) };
        uint size = rng.Next(6) switch { 0 => 0xffffffff, 1 => (uint)rng.Next(0x1000, 0x10000), 2 => (uint)Math.Max(0, body - rng.Next(1, 8)), _ => (uint)body };
        var message = new byte[VhostUserHeader.Length + body];
        rng.NextBytes(message.AsSpan(VhostUserHeader.Length));
        new VhostUserHeader(request, flags, size).Write(message);
        int count = rng.Next(4) == 0 ? 0 : rng.Next(1, 11);
        fds = new int[count];
        for (int i = 0; i < count; i++)
        {
            bool memory = rng.Next(2) == 0;
            var fd = memory ? Mmap.MemfdCreate(_marker) : EventFd.Create();
            if (memory && rng.Next(2) == 0) Mmap.Truncate(fd, 4096 * rng.Next(1, 4));
            owned.Add(fd);
            fds[i] = fd.Fd;
        }
        return message;
    }

    private void Serve(Socket listener, Random rng)
    {
        Assert.True(listener.Poll(TestFrontend.Timeout, SelectMode.SelectRead), $"mvtapd dialled\n{string.Join('\n', _log)}");
        using var peer = listener.Accept();
        var owned = new List<FileDescriptor>();
        try
        {
            using var raw = new FileDescriptor((int)peer.Handle, ownsHandle: false);
            for (int m = rng.Next(1, 4); m > 0; m--)
            {
                var bytes = Generate(rng, out var fds, owned);
                try { UnixSocket.Send(raw, bytes, fds); }
                catch (SystemCallException) { break; } // mvtapd hung up already
            }
            if (rng.Next(2) == 0) return; // hang up at once
            // half-close: whatever mvtapd made of the messages, the session ends on its side too
            peer.Shutdown(SocketShutdown.Send);
            WaitForHangUp(peer);
        }
        finally
        {
            foreach (var fd in owned) fd.Dispose();
        }
    }

    // mvtapd ends a session whose frontend half-closed (or that broke the protocol first)
    private static void WaitForHangUp(Socket peer)
    {
        var buffer = new byte[4096];
        var deadline = DateTime.UtcNow + TestFrontend.Timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (!peer.Poll(100_000, SelectMode.SelectRead)) continue;
            try { if (peer.Receive(buffer) == 0) return; }
            catch (SocketException) { return; }
        }
        Assert.Fail("mvtapd kept a session with a hostile server open");
    }

    [Fact]
    public void Generated_hostile_servers_leave_no_descriptor_or_mapping_behind_and_a_real_frontend_is_served_after_them()
    {
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        listener.Listen(4);
        using var endpoint = new VhostUserEndpoint(_backend, SocketPath, VhostUserRole.Client, _log.Enqueue)
        {
            RedialInterval = TimeSpan.FromMilliseconds(5),
            MaxRedialInterval = TimeSpan.FromMilliseconds(40),
            FirstMessageTimeout = TimeSpan.FromMilliseconds(300),
        };
        endpoint.Start();
        int seed = Random.Shared.Next();
        var rng = new Random(seed);
        for (int i = 0; i < Servers; i++) Serve(listener, rng);

        var deadline = DateTime.UtcNow + TestFrontend.Timeout;
        while (ProcessFiles.OpenCopies(_marker) + ProcessFiles.Mappings(_marker) > 0 && DateTime.UtcNow < deadline) Thread.Sleep(20);
        Assert.True(ProcessFiles.OpenCopies(_marker) == 0, $"seed {seed}: {ProcessFiles.OpenCopies(_marker)} descriptors the servers sent are still open");
        Assert.True(ProcessFiles.Mappings(_marker) == 0, $"seed {seed}: {ProcessFiles.Mappings(_marker)} mappings of the servers' memory remain");

        Assert.True(listener.Poll(TestFrontend.Timeout, SelectMode.SelectRead), "dialled after the hostile servers");
        using var f = new TestFrontend(listener.Accept());
        using var m = new TestGuestMemory();
        using var rx = new TestVring(m, 0);
        using var tx = new TestVring(m, 1);
        f.StartQueuePair(m, rx, tx);
        BackendHarness.WaitUntil(() => _backend.IsQueuePairReady(0), $"seed {seed}: the real frontend to be served");
    }
}
