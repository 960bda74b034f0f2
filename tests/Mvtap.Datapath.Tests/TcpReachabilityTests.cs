// Issue 3: for every mode, behind a plain external host and behind a hairpin switch, a TCP
// transfer between every ordered pair of endpoints and the external host, on the kernel's own
// macvlan and on mvtap, built the same way (DatapathTopology: ext namespace -- veth -- lower in
// a host namespace, each endpoint in its own namespace). The TCP reachability table of mvtap
// must equal the kernel's and the ping table of the same topology, and every transfer that
// connected must arrive intact (SHA-256 on the receiving side).
//
// Pairs are independent, so all pings of a topology run at once, then all transfers; the kernel's
// topology and mvtap's are measured at the same time. Neighbour caches are flushed between the two,
// so TCP's table is measured on its own; an unreachable pair fails on the neighbour lookup
// (EHOSTUNREACH after the kernel's 3 ARP probes, ~3 s) or at the connect timeout, whichever is first.
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Mvtap.Core.Model;
using Mvtap.Datapath;
using Mvtap.Linux;
using Xunit.Abstractions;

namespace Mvtap.Datapath.Tests;

[Collection("datapath")]
public sealed class TcpReachabilityTests(ITestOutputHelper output)
{
    private const int Size = 256 << 10;
    private const int FirstPort = 5200;
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);
    /// <summary>Only bounds how long a connected transfer may hang; no assertion depends on it.</summary>
    private static readonly TimeSpan TransferTimeout = TimeSpan.FromSeconds(30);

    private static readonly Dictionary<string, int> HostNumber = new() { ["ext"] = 1, ["a"] = 2, ["b"] = 3, ["c"] = 4 };

    private static string IpOf(string node) => $"10.77.0.{HostNumber[node]}";

    private static EndpointMode Mode(string name) => name switch
    {
        "vepa" => EndpointMode.Vepa,
        "bridge" => EndpointMode.Bridge,
        "private" => EndpointMode.Private,
        "passthru" => EndpointMode.Passthru,
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    /// <summary>Passthru owns its lower alone (spec A12): one endpoint; the other modes get three.</summary>
    private static string[] Endpoints(string mode) => mode == "passthru" ? ["a"] : ["a", "b", "c"];

    private static (string From, string To)[] Pairs(string mode)
    {
        string[] nodes = ["ext", .. Endpoints(mode)];
        return [.. from f in nodes from t in nodes where f != t select (f, t)];
    }

    /// <summary>What the kernel does (spec 3): endpoints and the external host always reach each other;
    /// endpoints reach each other in bridge mode (inside the host), in vepa mode only through a hairpin
    /// switch, in private mode never (their broadcast ARP comes back to the sender only, spec 3.4).</summary>
    private static string ExpectedKernelTable(string mode, bool hairpin) =>
        Table(Pairs(mode), p => p.From == "ext" || p.To == "ext" || mode == "bridge" || (mode == "vepa" && hairpin));

    private static string Table((string From, string To)[] pairs, Func<(string From, string To), bool> reachable) =>
        string.Join(", ", pairs.Select(p => $"{p.From}->{p.To}:{(reachable(p) ? "yes" : "no")}"));

    private sealed record TcpOutcome(bool Connected, string? Broken, string Detail);

    private sealed record Observation(string Ping, string Tcp, IReadOnlyList<string> Broken, string Details, string? Fault);

    [Theory]
    [InlineData("vepa", false)]
    [InlineData("vepa", true)]
    [InlineData("bridge", false)]
    [InlineData("bridge", true)]
    [InlineData("private", false)]
    [InlineData("private", true)]
    [InlineData("passthru", false)]
    [InlineData("passthru", true)]
    public async Task TcpReachesExactlyThePairsTheKernelsMacvlanAndPingReachAndArrivesIntact(string mode, bool hairpin)
    {
        string what = $"mode {mode}, hairpin {(hairpin ? "on" : "off")}";
        var kernelRun = Task.Factory.StartNew(() => Observe(kernel: true, mode, hairpin), TaskCreationOptions.LongRunning);
        var mvtapRun = Task.Factory.StartNew(() => Observe(kernel: false, mode, hairpin), TaskCreationOptions.LongRunning);
        var kernel = await kernelRun;
        var mvtap = await mvtapRun;
        output.WriteLine($"{what}\n  kernel ping {kernel.Ping}\n  kernel TCP  {kernel.Tcp}\n  mvtap  ping {mvtap.Ping}\n  mvtap  TCP  {mvtap.Tcp}");
        output.WriteLine($"  kernel: {kernel.Details}\n  mvtap:  {mvtap.Details}");

        Assert.True(kernel.Broken.Count == 0, $"{what}: kernel transfers that connected but did not arrive intact: {string.Join("; ", kernel.Broken)}");
        Assert.True(mvtap.Broken.Count == 0, $"{what}: mvtap transfers that connected but did not arrive intact: {string.Join("; ", mvtap.Broken)}");
        Assert.True(mvtap.Fault is null, $"{what}: mvtap's datapath thread faulted: {mvtap.Fault}");
        // the reference itself, so that two equally broken environments cannot agree
        Assert.True(ExpectedKernelTable(mode, hairpin) == kernel.Ping,
            $"{what}: kernel ping table {kernel.Ping}, expected {ExpectedKernelTable(mode, hairpin)}");
        Assert.True(kernel.Tcp == kernel.Ping, $"{what}: kernel TCP table differs from its ping table: {Diff("ping", kernel.Ping, "TCP", kernel.Tcp)} ({kernel.Details})");
        Assert.True(mvtap.Tcp == kernel.Tcp, $"{what}: mvtap TCP table differs from the kernel's: {Diff("kernel", kernel.Tcp, "mvtap", mvtap.Tcp)} (mvtap: {mvtap.Details}; kernel: {kernel.Details})");
        Assert.True(mvtap.Tcp == mvtap.Ping, $"{what}: mvtap TCP table differs from its ping table: {Diff("ping", mvtap.Ping, "TCP", mvtap.Tcp)} ({mvtap.Details})");
    }

    /// <summary>The entries ("a->b:yes") in which two tables differ, named by pair.</summary>
    private static string Diff(string leftName, string left, string rightName, string right)
    {
        var l = left.Split(", ");
        var r = right.Split(", ");
        if (l.Length != r.Length) return $"{leftName} {left}; {rightName} {right}";
        return string.Join("; ", l.Zip(r).Where(x => x.First != x.Second).Select(x =>
        {
            int colon = x.First.LastIndexOf(':');
            return $"{x.First[..colon]}: {leftName} {x.First[(colon + 1)..]}, {rightName} {x.Second[(x.Second.LastIndexOf(':') + 1)..]}";
        }));
    }

    private static Observation Observe(bool kernel, string mode, bool hairpin)
    {
        using var topo = new DatapathTopology(hairpin);
        var nsOf = new Dictionary<string, string> { ["ext"] = topo.Ext.Name };
        using var sw = kernel ? null : new DatapathSwitch(topo.Host.Name);
        var dp = sw?.OpenLower(DatapathTopology.LowerName);
        foreach (var e in Endpoints(mode))
        {
            var ns = topo.NewNamespace();
            nsOf[e] = ns.Name;
            if (kernel)
            {
                topo.AddKernelMacvlan("kv" + e, mode, ns, HostNumber[e]);
            }
            else
            {
                // kernel-compatible settings, as the conformance suite uses (design: spoofchk off)
                sw!.AddMacvlanEndpoint(dp!, new EndpointSettings { Name = e, Mode = Mode(mode), SpoofCheck = false }, ns.Name, "eth0");
                DatapathTopology.Address(ns, "eth0", HostNumber[e]);
            }
        }

        var pairs = Pairs(mode);
        // Ping blocks on a child process: one dedicated thread each rather than the pool's few. Three
        // attempts, not the helper's two: two dozen pings start at once on a busy 2-core machine.
        var pings = pairs.Select(p => Task.Factory.StartNew(() => DatapathTopology.Ping(nsOf[p.From], IpOf(p.To), attempts: 3), TaskCreationOptions.LongRunning)).ToArray();
        Task.WaitAll(pings);
        string ping = Table(pairs, p => pings[Array.IndexOf(pairs, p)].Result);

        // TCP resolves its neighbours itself rather than inherit what the pings learnt (or failed to)
        foreach (var ns in nsOf.Values) TestNet.Ip("-n", ns, "neigh", "flush", "all");
        var payloads = pairs.Select((_, i) => { var b = new byte[Size]; new Random(1000 + i).NextBytes(b); return b; }).ToArray();
        var transfers = pairs.Select((p, i) => Transfer(nsOf[p.To], IpOf(p.To), nsOf[p.From], FirstPort + i, payloads[i])).ToArray();
        Task.WaitAll(transfers);
        var outcomes = transfers.Select(t => t.Result).ToArray();
        string tcp = Table(pairs, p => outcomes[Array.IndexOf(pairs, p)].Connected);
        var broken = pairs.Zip(outcomes).Where(x => x.Second.Broken is not null).Select(x => $"{x.First.From}->{x.First.To}: {x.Second.Broken}").ToList();
        string details = string.Join(", ", pairs.Zip(outcomes).Select(x => $"{x.First.From}->{x.First.To} {x.Second.Detail}"));
        return new Observation(ping, tcp, broken, details, dp?.Fault?.ToString());
    }

    /// <summary>One TCP transfer of <paramref name="payload"/> from a client in <paramref name="clientNs"/> to a
    /// listener in <paramref name="serverNs"/>. Not connected: the pair is unreachable. Connected: the receiver
    /// must get exactly the payload (length and SHA-256) followed by the end of the stream, or it is broken.</summary>
    private static async Task<TcpOutcome> Transfer(string serverNs, string serverIp, string clientNs, int port, byte[] payload)
    {
        using var listener = TcpTransfer.Listen(serverNs, port, reuseAddress: false);
        using var client = TcpTransfer.Client(clientNs);
        using var cts = new CancellationTokenSource(TransferTimeout);
        var server = Receive(listener, cts.Token);

        var started = DateTime.UtcNow;
        try
        {
            using var connectCts = CancellationTokenSource.CreateLinkedTokenSource(cts.Token);
            connectCts.CancelAfter(ConnectTimeout);
            await client.ConnectAsync(new IPEndPoint(IPAddress.Parse(serverIp), port), connectCts.Token);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            cts.Cancel();
            try { await server; } catch (Exception) { /* the accept was cancelled: nothing connected */ }
            string why = e is SocketException se ? se.SocketErrorCode.ToString() : "connect timeout";
            return new TcpOutcome(false, null, $"not connected ({why} after {(DateTime.UtcNow - started).TotalSeconds:0.0} s)");
        }

        try
        {
            for (int sent = 0; sent < payload.Length;)
                sent += await client.SendAsync(payload.AsMemory(sent), SocketFlags.None, cts.Token);
            client.Shutdown(SocketShutdown.Send);
            var (received, hash) = await server;
            if (received != payload.Length) return new TcpOutcome(true, $"received {received} of {payload.Length} bytes", "broken");
            if (!hash.AsSpan().SequenceEqual(SHA256.HashData(payload))) return new TcpOutcome(true, "SHA-256 differs", "broken");
            return new TcpOutcome(true, null, "intact");
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            cts.Cancel();
            try { await server; } catch (Exception) { /* reported below */ }
            return new TcpOutcome(true, $"connected, then {e.GetType().Name}: {e.Message}", "broken");
        }
    }

    private static async Task<(long Received, byte[] Hash)> Receive(Socket listener, CancellationToken token)
    {
        using var conn = await listener.AcceptAsync(token);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buf = new byte[65536];
        long total = 0;
        int n;
        while ((n = await conn.ReceiveAsync(buf, SocketFlags.None, token)) > 0)
        {
            sha.AppendData(buf, 0, n);
            total += n;
        }
        return (total, sha.GetHashAndReset());
    }
}
