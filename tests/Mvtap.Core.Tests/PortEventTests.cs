// How a Port tells its adapters about changes and asks them for the lower's MAC: a passthru MAC
// change the device refuses leaves the endpoint exactly as it was (any change, generated); Changed
// handlers run outside the port's lock, one at a time, and have seen a change when it returns; a
// handler may change the port itself.
using CsCheck;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;

namespace Mvtap.Core.Tests;

public class PortEventTests
{
    private static readonly MacAddress LowerMac = new(0x02_00_00_00_00_01UL);

    private static Port NewPort() => new(new LowerDevice("eth1", LowerMac), new Random(3));

    /// <summary>Everything of an endpoint a change can touch, and the port's own MACs and table.</summary>
    private static string Snapshot(Port port, Endpoint ep) =>
        $"{ep.Name} {ep.Mac} {ep.Mode} {ep.Flags} {ep.IsUp} {ep.Mtu} {ep.BcQueueLenRequest} {ep.SpoofCheck} {ep.AllMulti} {ep.Promisc} " +
        $"[{string.Join(",", ep.SourceList)}] [{string.Join(",", ep.MulticastGroups.Order())}] " +
        $"lower {port.Lower.Mac} permanent {port.PermanentMac} cutoff {port.BcCutoff} used {port.BcQueueLenUsed}";

    private static readonly Gen<EndpointChange> Changes =
        Gen.Select(Gen.Int[0, 3], Gen.Int[0, 2], Gen.Int[0, 3], Gen.Int[0, 2], Gen.Int[0, 2], Gen.Int[0, 3], Gen.Int[0, 2])
            .Select(t => new EndpointChange
            {
                // 1a:..:01 is the endpoint's own; 01:.. is multicast (refused by validation)
                Mac = t.Item1 switch { 0 => null, 1 => new MacAddress(0x1a_00_00_00_00_42UL), 2 => new MacAddress(0x01_00_5e_00_00_01UL), _ => new MacAddress(0x1a_00_00_00_00_43UL) },
                Flags = t.Item2 switch { 0 => null, 1 => EndpointFlags.NoPromisc, _ => EndpointFlags.NoDst },
                Mtu = t.Item3 switch { 0 => null, 1 => 1400, 2 => 9000, _ => 68 },
                Up = t.Item4 switch { 0 => null, 1 => true, _ => false },
                SpoofCheck = t.Item5 switch { 0 => null, 1 => false, _ => true },
                BcQueueLen = t.Item6 switch { 0 => null, 1 => 5u, 2 => 2000u, _ => 0u },
                BcCutoff = t.Item7 switch { 0 => null, 1 => -1, _ => 7 },
                JoinGroups = t.Item7 == 1 ? [new MacAddress(0x01_00_5e_00_00_fbUL)] : null,
            });

    [Fact]
    public void A_passthru_mac_change_the_device_refuses_leaves_the_endpoint_exactly_as_before()
    {
        Changes.Sample(change =>
        {
            var port = NewPort();
            var ep = port.Create(new EndpointSettings { Name = "t", Mode = EndpointMode.Passthru, BcQueueLen = 77, SpoofCheck = true });
            port.SetUp(ep, true);
            int raised = 0;
            port.Changed += _ => raised++;
            var table = port.Table;
            var before = Snapshot(port, ep);
            port.LowerMacApplier = _ => throw new MvtapException(Errno.EADDRINUSE, "eth1 refused the address");
            var e = Record.Exception(() => port.Change(ep, change));
            bool movesTheMac = change.Mac is { } mac && mac != ep.Mac && mac.IsValidUnicast;
            if (movesTheMac) Assert.IsType<MvtapException>(e); // refused by a rule or by the device
            if (e is not null)
            {
                Assert.Equal(before, Snapshot(port, ep));
                Assert.Same(table, port.Table);
                Assert.Equal(0, raised);
            }
            // the port is not left waiting for the device: the next change goes through
            port.LowerMacApplier = null;
            port.Change(ep, new EndpointChange { Mtu = 1300 });
            Assert.Equal(1300, ep.Mtu);
        }, iter: 300);
    }

    [Fact]
    public void The_device_takes_the_mac_before_anything_of_the_change_is_visible()
    {
        var port = NewPort();
        var ep = port.Create(new EndpointSettings { Name = "t", Mode = EndpointMode.Passthru });
        string? seenByDevice = null;
        var newMac = new MacAddress(0x1a_00_00_00_00_42UL);
        port.LowerMacApplier = mac => seenByDevice = $"{mac} {ep.Mac} {ep.Flags} {port.Lower.Mac}";
        port.Change(ep, new EndpointChange { Mac = newMac, Flags = EndpointFlags.NoPromisc });
        Assert.Equal($"{newMac} {LowerMac} {EndpointFlags.None} {LowerMac}", seenByDevice);
        Assert.Equal(newMac, ep.Mac);
        Assert.Equal(newMac, port.Lower.Mac);
        Assert.Equal(EndpointFlags.NoPromisc, ep.Flags);
        // the lower's own event for that change is recognised as ours: the MAC to restore stays
        port.OnLowerMacChanged(newMac);
        Assert.Equal(LowerMac, port.PermanentMac);
    }

    [Fact]
    public void A_failure_to_put_the_lowers_mac_back_does_not_stop_the_deletion_as_in_the_kernel()
    {
        var port = NewPort();
        var ep = port.Create(new EndpointSettings { Name = "t", Mode = EndpointMode.Passthru });
        port.SetMac(ep, new MacAddress(0x1a_00_00_00_00_42UL));
        port.LowerMacApplier = _ => throw new MvtapException(Errno.EBUSY, "busy");
        port.Delete(ep);
        Assert.Empty(port.Endpoints);
        Assert.True(ep.IsDeleted);
        Assert.False(port.IsPassthru);
        Assert.Equal(new MacAddress(0x1a_00_00_00_00_42UL), port.Lower.Mac); // what the device still has
    }

    [Fact]
    public void Handlers_run_outside_the_ports_lock()
    {
        var port = NewPort();
        bool readFromAnotherThread = false;
        port.Changed += p =>
        {
            // another thread could not read the port if this ran under its lock
            readFromAnotherThread = Task.Run(() => p.Endpoints.Count).Wait(TimeSpan.FromSeconds(60));
        };
        port.Create(new EndpointSettings { Name = "a" });
        Assert.True(readFromAnotherThread);
    }

    [Fact]
    public void Handlers_run_one_at_a_time_and_have_seen_a_change_when_it_returns()
    {
        var port = NewPort();
        var eps = Enumerable.Range(0, 4).Select(i => port.Create(new EndpointSettings { Name = $"e{i}" })).ToArray();
        var seenMtu = new int[eps.Length];
        int running = 0, overlapped = 0;
        port.Changed += p =>
        {
            if (Interlocked.Increment(ref running) != 1) Interlocked.Increment(ref overlapped);
            for (int i = 0; i < eps.Length; i++) Volatile.Write(ref seenMtu[i], eps[i].Mtu);
            Thread.Yield();
            Interlocked.Decrement(ref running);
        };
        int stale = 0;
        Parallel.For(0, eps.Length, i =>
        {
            for (int k = 0; k < 300; k++)
            {
                int mtu = 1000 + k % 400;
                port.Change(eps[i], new EndpointChange { Mtu = mtu });
                if (Volatile.Read(ref seenMtu[i]) != mtu) Interlocked.Increment(ref stale);
            }
        });
        Assert.Equal(0, overlapped);
        Assert.Equal(0, stale);
    }

    [Fact]
    public void A_handler_may_change_the_port_and_its_change_is_handled_too()
    {
        var port = NewPort();
        var ep = port.Create(new EndpointSettings { Name = "a" });
        var seen = new List<int>();
        port.Changed += p =>
        {
            seen.Add(ep.Mtu);
            if (ep.Mtu == 1400) p.Change(ep, new EndpointChange { Mtu = 1300 });
        };
        port.Change(ep, new EndpointChange { Mtu = 1400 });
        Assert.Equal([1400, 1300], seen);
    }
}
