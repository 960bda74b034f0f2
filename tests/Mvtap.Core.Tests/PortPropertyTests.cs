// Property test over random sequences of endpoint creation, deletion, up/down, mode and MAC
// changes, source-list edits, group joins and frames in both directions, checking after each
// step: only up endpoints are in the table; nothing returns to its sender but spec 3.4's
// "forward to original port" cases; no frame is lost without a counted reason; MAC conflicts
// fail with the kernel's error.
using CsCheck;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Core.Sim;
using static Mvtap.Core.Tests.Frames;

namespace Mvtap.Core.Tests;

public class PortPropertyTests
{
    private static readonly EndpointMode[] ModePool = [EndpointMode.Private, EndpointMode.Vepa, EndpointMode.Bridge, EndpointMode.Source, EndpointMode.Vepa, EndpointMode.Bridge, EndpointMode.Passthru];
    private static MacAddress EndpointMac(int i) => new(0x1a_00_00_00_00_00UL | (uint)(i % 4 + 1));
    private static MacAddress ExternalMac(int i) => new(0x02_00_00_00_ee_00UL | (uint)(i % 3 + 1));

    [Fact]
    public void Random_sequences_keep_the_ports_invariants()
    {
        Gen.Int[0, 100_000].Array[1, 80].Sample(Run, iter: 400);
    }

    private static void Run(int[] steps)
    {
        var net = new SimNetwork(hairpin: false);
        var lm = net.Port.Lower.Mac;
        for (int i = 0; i < 3; i++) net.AddExternalHost($"x{i}", ExternalMac(i));
        var port = net.Port;
        int created = 0;
        foreach (var v in steps)
        {
            int op = v % 11, a = v / 11 % 7, b = v / 77 % 7, c = v / 539 % 7;
            var eps = port.Endpoints;
            Endpoint? ep = eps.Count == 0 ? null : eps[a % eps.Count];
            switch (op)
            {
                case 0:
                    Try(() => port.Create(new EndpointSettings { Name = $"e{created++}", Mode = ModePool[b], Mac = c == 6 ? null : EndpointMac(c), SpoofCheck = a % 2 == 0 }));
                    break;
                case 1 when ep is not null: port.Delete(ep); break;
                case 2 when ep is not null:
                    {
                        bool busy = !port.IsPassthru && (ep.Mac == lm || eps.Any(o => o != ep && o.IsUp && o.Mac == ep.Mac));
                        var err = Try(() => port.SetUp(ep, true));
                        Assert.Equal(busy && !ep.IsUp ? Errno.EADDRINUSE : (Errno?)null, err);
                        break;
                    }
                case 3 when ep is not null: port.SetUp(ep, false); break;
                case 4 when ep is not null: Try(() => port.SetMode(ep, ModePool[b])); break;
                case 5 when ep is not null:
                    {
                        var mac = b == 6 ? lm : EndpointMac(b);
                        bool busy = !port.IsPassthru && mac != ep.Mac && (mac == lm || eps.Any(o => o != ep && o.IsUp && o.Mac == mac));
                        var err = Try(() => port.SetMac(ep, mac));
                        if (busy) Assert.Equal(Errno.EADDRINUSE, err);
                        else Assert.Null(err);
                        break;
                    }
                case 6 when ep is not null:
                    {
                        var opKind = (MacaddrOperation)(b % 4);
                        var err = Try(() => port.Change(ep, new EndpointChange { MacaddrOp = opKind, Macaddr = opKind == MacaddrOperation.Flush ? null : ExternalMac(c), Flags = c == 0 ? EndpointFlags.NoDst : null }));
                        Assert.Equal(ep.Mode == EndpointMode.Source ? null : Errno.EINVAL, err);
                        break;
                    }
                case 7 when ep is not null:
                    if (b < 3) port.JoinGroup(ep, Group); else port.LeaveGroup(ep, Group);
                    break;
                case 8 when ep is not null: SendFromEndpoint(net, ep, b, c); break;
                case 9: InjectFromWire(net, a, b); break;
                case 10: net.Hairpin = !net.Hairpin; break;
            }
            CheckTable(port);
        }
    }

    private static Errno? Try(Action a)
    {
        try { a(); return null; }
        catch (MvtapException e) { return e.Errno; }
    }

    private static void CheckTable(Port port)
    {
        var table = port.Table;
        var eps = port.Endpoints;
        Assert.All(table.UpEndpoints, s => Assert.True(s.IsUp && s.Endpoint.IsUp));
        foreach (var ep in eps)
        {
            var found = table.ByMac.Find(ep.Mac);
            Assert.Equal(ep.IsUp, found is not null && found.Endpoint == ep);
        }
        var upMacs = eps.Where(e => e.IsUp).Select(e => e.Mac).ToList();
        Assert.Equal(upMacs.Count, upMacs.Distinct().Count());
    }

    private static MacAddress Destination(SimNetwork net, Endpoint from, int kind)
    {
        var others = net.Port.Endpoints.Where(e => e != from && e.Mac != from.Mac).ToList();
        return kind switch
        {
            0 => MacAddress.Broadcast,
            1 => Group,
            2 => ExternalMac(kind),
            3 => net.Port.Lower.Mac,
            _ => others.Count > 0 ? others[kind % others.Count].Mac : Unknown,
        };
    }

    private static void SendFromEndpoint(SimNetwork net, Endpoint from, int kind, int spoof)
    {
        var dst = Destination(net, from, kind);
        if (dst == from.Mac) return; // a frame to one's own MAC comes back by design
        var src = spoof == 0 ? ExternalMac(2) : from.Mac;
        var mode = from.Mode;
        var before = Snapshot(net);
        net.ClearInboxes();
        net.StationFor(from).Send(Make(dst, src));
        var self = net.StationFor(from).Inbox.Count;
        // spec 3.4: only a reflected multicast from private/source/passthru returns to its sender;
        // a passthru endpoint owns all unicast, its own reflected frames included (spec 3.3)
        bool allowed = net.Hairpin && src == from.Mac && from.IsUp &&
            (dst.IsMulticast ? mode is EndpointMode.Private or EndpointMode.Source or EndpointMode.Passthru : mode == EndpointMode.Passthru);
        // a spoofed source makes the reflection look external (spec 5.11): it may come back
        if (!allowed && src == from.Mac) Assert.True(self == 0, $"{from} got its own frame to {dst} back (hairpin={net.Hairpin})");
        AssertAccounted(net, before);
    }

    private static void InjectFromWire(SimNetwork net, int dstKind, int srcKind)
    {
        var eps = net.Port.Endpoints;
        var dst = dstKind switch { 0 => MacAddress.Broadcast, 1 => Group, 2 => OtherGroup, 3 => net.Port.Lower.Mac, 4 => Unknown, _ => EndpointMac(dstKind) };
        var src = srcKind < 3 ? ExternalMac(srcKind) : eps.Count > 0 ? eps[srcKind % eps.Count].Mac : Ext;
        var before = Snapshot(net);
        net.ClearInboxes();
        net.InjectFromWire(Make(dst, src));
        AssertAccounted(net, before);
    }

    private static long Snapshot(SimNetwork net) =>
        net.Port.Counters.TotalDrops + net.Port.Endpoints.Sum(e => e.Counters.TotalDrops);

    /// <summary>Every frame reached someone (an endpoint, the wire, the lower's stack) or a
    /// drop was counted for it.</summary>
    private static void AssertAccounted(SimNetwork net, long dropsBefore)
    {
        int delivered = net.Wire.Count + net.LowerStack.Inbox.Count + net.Port.Endpoints.Sum(e => net.StationFor(e).Inbox.Count);
        long dropped = Snapshot(net) - dropsBefore;
        Assert.True(delivered > 0 || dropped > 0, "a frame vanished without a counted reason");
    }
}
