// One backend + endpoint listening in a private temp directory, the log it writes, and the
// helpers to bring a device up to "rings running" with a TestFrontend in a few lines.
using System.Collections.Concurrent;
using Mvtap.Core.Model;
using Mvtap.VhostUser.Memory;
using Mvtap.VhostUser.Net;

namespace Mvtap.VhostUser.Tests.Frontend;

public sealed class BackendHarness : IDisposable
{
    private readonly List<IDisposable> _owned = [];

    public BackendHarness(int maxQueuePairs = 2, VhostUserRole role = VhostUserRole.Server, string? socketPath = null, bool start = true,
        GuestMemoryPolicy guestMemory = GuestMemoryPolicy.Sealed)
    {
        Dir = Directory.CreateTempSubdirectory("mvtap-vu-").FullName;
        SocketPath = socketPath ?? Path.Combine(Dir, "tap0.vhost");
        Backend = new VhostUserNetBackend(maxQueuePairs, line => Log.Enqueue(line)) { GuestMemory = guestMemory };
        Endpoint = new VhostUserEndpoint(Backend, SocketPath, role, line => Log.Enqueue(line))
        {
            RedialInterval = TimeSpan.FromMilliseconds(50),
        };
        if (start) Endpoint.Start();
    }

    public string Dir { get; }
    public string SocketPath { get; }
    public VhostUserNetBackend Backend { get; }
    public VhostUserEndpoint Endpoint { get; }
    public ConcurrentQueue<string> Log { get; } = new();

    public TestFrontend Connect() => Own(TestFrontend.Connect(SocketPath));

    public T Own<T>(T d) where T : IDisposable
    {
        _owned.Add(d);
        return d;
    }

    /// <summary>Connects, negotiates <paramref name="features"/>, shares fresh guest memory and
    /// starts <paramref name="pairs"/> queue pairs. Returns the frontend, memory and rings
    /// (rings[2k] = RX of pair k, rings[2k+1] = TX).</summary>
    public (TestFrontend Frontend, TestGuestMemory Memory, TestVring[] Rings) Up(ulong features, int pairs = 1, int size = 256, int regions = 1,
        bool sealShrink = true)
    {
        var f = Connect();
        f.Negotiate(features);
        var m = Own(new TestGuestMemory(split: regions, sealShrink: sealShrink));
        Assert.Equal(0UL, f.SetMemTable(m));
        var rings = new TestVring[2 * pairs];
        for (int i = 0; i < rings.Length; i++)
        {
            rings[i] = Own(new TestVring(m, i, size));
            f.StartVring(rings[i]);
        }
        return (f, m, rings);
    }

    /// <summary>Bounded wait for a condition the control thread brings about.</summary>
    public static void WaitUntil(Func<bool> condition, string what)
    {
        if (!SpinWait.SpinUntil(condition, TestFrontend.Timeout)) throw new TimeoutException($"timed out waiting for: {what}");
    }

    /// <summary>The calls on <paramref name="v"/> once every interrupt the backend asked for is
    /// written (its notifier thread writes them after the batch).</summary>
    public ulong TakeCalls(TestVring v)
    {
        WaitUntil(() => Backend.CallsSettled, "the backend's calls to be written");
        return v.TakeCalls();
    }

    public string LogText => string.Join("\n", Log);

    public void Dispose()
    {
        Endpoint.Dispose();
        Backend.Dispose();
        for (int i = _owned.Count - 1; i >= 0; i--) _owned[i].Dispose();
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}
