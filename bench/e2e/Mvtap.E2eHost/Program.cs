// The mvtap side of the end-to-end benchmark (bench/e2e/run.sh): runs mvtap's Linux datapath on
// one lower in a given namespace with one `macvlan` endpoint per given namespace (inner end eth0,
// all in the given mode), prints "ready" once frames can flow, and forwards until SIGTERM/SIGINT.
// A process of its own so its CPU time (/proc/<pid>/stat) is the datapath's cost alone.
// Usage: Mvtap.E2eHost <host-netns> <lower-ifname> <mode> <endpoint-netns>...
using System.Runtime.InteropServices;
using Mvtap.Core.Model;
using Mvtap.Datapath;

if (args.Length < 4)
{
    Console.Error.WriteLine("usage: Mvtap.E2eHost <host-netns> <lower-ifname> <vepa|bridge|private> <endpoint-netns>...");
    return 2;
}
var mode = args[2] switch
{
    "vepa" => EndpointMode.Vepa,
    "bridge" => EndpointMode.Bridge,
    "private" => EndpointMode.Private,
    _ => throw new ArgumentException($"mode {args[2]}"),
};
using var stop = new ManualResetEventSlim();
using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Set(); });
using var intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Set(); });

using var sw = new DatapathSwitch(args[0]);
var dp = sw.OpenLower(args[1]);
var endpoints = new List<Endpoint>();
for (int i = 3; i < args.Length; i++)
    endpoints.Add(sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = $"e{i - 3}", Mode = mode, SpoofCheck = false }, args[i], "eth0"));
Console.WriteLine("ready");
Console.Out.Flush();
stop.Wait();

var s = dp.Stats;
Console.Error.WriteLine($"wakeups {s.Wakeups} from-lower {s.FramesFromLower} from-endpoints {s.FramesFromEndpoints} wire-sent {s.WireSent} " +
    $"endpoint-sent {s.EndpointSent} wire-refused {s.WireRefused} wire-errors {s.WireErrors} gso {s.GsoFrames} fault {dp.Fault?.Message ?? "none"}");
foreach (var ep in endpoints)
    Console.Error.WriteLine($"{ep.Name}: tx {ep.Counters.TxPackets} rx {ep.Counters.RxPackets} drops " +
        string.Join(',', ep.Counters.NonZeroDrops().Select(kv => $"{kv.Key}={kv.Value}")));
Console.Error.WriteLine("port drops " + string.Join(',', dp.Port.Counters.NonZeroDrops().Select(kv => $"{kv.Key}={kv.Value}")));
return 0;
