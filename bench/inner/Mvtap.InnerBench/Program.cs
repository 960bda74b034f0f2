// The measuring side of bench/inner/run.sh (issue 11): mvtap's DatapathSwitch with one macvlan endpoint
// per given namespace (inner end eth0, up), then
//   cost:  CPU seconds per second of this process (utime+stime, /proc/self/stat) and of the inner link
//          monitor's thread alone (/proc/self/task/TID/stat) over a quiet window, after a warm-up;
//   delay: for each trial, a link-layer join made inside one endpoint's namespace (PACKET_ADD_MEMBERSHIP,
//          PACKET_MR_MULTICAST on a packet socket on eth0: no notification exists for it) while the
//          external host sends a frame to that group every millisecond; the delay is from the join's
//          return to the first of those frames arriving on eth0 (mvtap delivers none before the join is
//          followed). Endpoints are taken in turn across the whole list.
// Prints one line "cost total=… monitor=…" and one "delays ms …". One process: one clock.
// Usage: Mvtap.InnerBench <host-netns> <lower> <ext-netns> <ext-if> <warmup-s> <window-s> <trials> <endpoint-netns>...
using System.Diagnostics;
using System.Globalization;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Datapath;
using Mvtap.Linux;
using Mvtap.Linux.Netlink;

if (args.Length < 8)
{
    Console.Error.WriteLine("usage: Mvtap.InnerBench <host-netns> <lower> <ext-netns> <ext-if> <warmup-s> <window-s> <trials> <endpoint-netns>...");
    return 2;
}
string hostNs = args[0], lower = args[1], extNs = args[2], extIf = args[3];
int warmup = int.Parse(args[4], CultureInfo.InvariantCulture), window = int.Parse(args[5], CultureInfo.InvariantCulture);
int trials = int.Parse(args[6], CultureInfo.InvariantCulture);
var namespaces = args[7..];

using var sw = new DatapathSwitch(hostNs, log: _ => { });
var dp = sw.OpenLower(lower);
var created = Stopwatch.StartNew();
for (int i = 0; i < namespaces.Length; i++)
    sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = $"e{i}", Mode = EndpointMode.Bridge }, namespaces[i], "eth0");
Console.Error.WriteLine($"{namespaces.Length} endpoints made in {created.Elapsed.TotalSeconds:F1} s; warming up {warmup} s");
Thread.Sleep(warmup * 1000);

// ---- cost ----
string? monitorTask = Directory.EnumerateDirectories("/proc/self/task")
    .FirstOrDefault(t => File.ReadAllText($"{t}/comm").Trim().StartsWith("mvtap inner", StringComparison.Ordinal));
(double Total, double Monitor) Cpu() => (Ticks("/proc/self/stat"), monitorTask is null ? 0 : Ticks($"{monitorTask}/stat"));
var t0 = Stopwatch.GetTimestamp();
var before = Cpu();
Thread.Sleep(window * 1000);
var after = Cpu();
double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"cost total={(after.Total - before.Total) / seconds:F4} monitor={(after.Monitor - before.Monitor) / seconds:F4} endpoints={namespaces.Length}"));

// ---- delay ----
int extIndex = IfIndex(extNs, extIf);
using var wire = NetNamespace.Run(extNs, () => new PacketSocket(extIndex, new PacketSocketOptions { Protocol = 0 }));
var delays = new List<double>();
for (int t = 0; t < trials; t++)
{
    string ns = namespaces[(int)((long)t * namespaces.Length / Math.Max(1, trials))];
    var group = new MacAddress(0x01005E700000UL | (uint)(t + 1));
    var frame = new byte[60];
    group.Write(frame);
    new MacAddress(0x020000EE0001UL).Write(frame.AsSpan(6));
    frame[12] = 0x88; frame[13] = 0xB5;
    using var rx = NetNamespace.Run(ns, () => new PacketSocket(IfIndex(ns, "eth0")));
    using var stop = new CancellationTokenSource();
    var sender = new Thread(() => { while (!stop.IsCancellationRequested) { wire.Send(frame); Thread.Sleep(1); } });
    sender.Start();
    Thread.Sleep(20); // frames are on the wire (and filtered out) before the join
    Drain(rx);
    rx.AddMulticast(group);
    long joined = Stopwatch.GetTimestamp();
    double? delay = null;
    using var batch = new SocketFrameBatch(16, 2048);
    while (Stopwatch.GetElapsedTime(joined).TotalSeconds < 3 && delay is null)
    {
        if (!rx.WaitReadable(100)) continue;
        int n = rx.ReceiveBatch(batch);
        for (int i = 0; i < n && delay is null; i++)
            if (batch.Frame(i).Length >= 6 && MacAddress.Read(batch.Frame(i)) == group)
                delay = Stopwatch.GetElapsedTime(joined).TotalMilliseconds;
    }
    stop.Cancel();
    sender.Join();
    delays.Add(delay ?? double.PositiveInfinity);
}
Console.WriteLine("delays ms " + string.Join(' ', delays.Select(d => d.ToString("F1", CultureInfo.InvariantCulture))));
return 0;

static double Ticks(string statPath)
{
    // fields after the ")" of comm: state is field 3; utime and stime are fields 14 and 15, in clock ticks (100/s)
    var s = File.ReadAllText(statPath);
    var f = s[(s.LastIndexOf(')') + 2)..].Split(' ');
    return (double.Parse(f[11], CultureInfo.InvariantCulture) + double.Parse(f[12], CultureInfo.InvariantCulture)) / 100.0;
}

static int IfIndex(string ns, string name)
{
    using var rtnl = Rtnetlink.InNamespace(ns);
    return rtnl.GetLink(name)?.Index ?? throw new InvalidOperationException($"no {name} in {ns}");
}

static void Drain(PacketSocket s)
{
    using var b = new SocketFrameBatch(16, 2048);
    while (s.ReceiveBatch(b) > 0) { }
}
