// spec 7.3: the broadcast queue's bound, drops, cutoff and order.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using static Mvtap.Core.Tests.Frames;

namespace Mvtap.Core.Tests;

public class BroadcastQueueTests
{
    private static SpecLab WithQueueLength(uint length, bool lowerFiltersUnicast = true)
    {
        var lab = new SpecLab(false, lowerFiltersUnicast);
        foreach (var ep in lab.Port.Endpoints) lab.Port.Change(ep, new EndpointChange { BcQueueLen = length });
        return lab;
    }

    [Fact]
    public void Q01_bcqueuelen_0_drops_broadcast_for_endpoints_but_the_lower_stack_gets_it()
    {
        var lab = WithQueueLength(0);
        lab.Wire(Make(MacAddress.Broadcast, Ext));
        Assert.Equal("L", lab.Got());
        Assert.Equal(1, lab.Port.Counters.LowerRxDropped);
        Assert.Equal(1, lab.Port.Counters[DropReason.BroadcastQueueFull]);
    }

    [Fact]
    public void Q02_cutoff_minus_one_delivers_inline_without_drops()
    {
        var lab = WithQueueLength(0);
        lab.Port.Change(lab["V"], new EndpointChange { BcCutoff = -1 });
        lab.Port.JoinGroup(lab["B"], Group);
        lab.Wire(Make(MacAddress.Broadcast, Ext));
        Assert.Equal("B,B2,P,V,V2,L", lab.Got());
        lab.Wire(Make(Group, Ext));
        Assert.Equal("B,L", lab.Got());
        Assert.Equal(0, lab.Port.Counters.LowerRxDropped);
    }

    [Fact]
    public void Q03_a_group_with_one_subscriber_is_inline_at_cutoff_1_and_queued_at_cutoff_0()
    {
        var lab = new SpecLab(false, true, ("T", EndpointMode.Passthru));
        lab.Port.Change(lab["T"], new EndpointChange { Flags = EndpointFlags.NoPromisc, BcQueueLen = 0 });
        lab.Port.JoinGroup(lab["T"], Group);
        lab.Wire(Make(Group, Ext));
        Assert.Equal("T,L", lab.Got()); // multicast is passed to the lower on a passthru port too (spec 3.2)
        lab.Port.Change(lab["T"], new EndpointChange { BcCutoff = 0 });
        lab.Wire(Make(Group, Ext));
        Assert.Equal(1, lab.Port.Counters[DropReason.BroadcastQueueFull]);
    }

    [Fact]
    public void Q04_a_promiscuous_lower_queues_every_multicast()
    {
        var lab = WithQueueLength(0, lowerFiltersUnicast: false); // like veth: no IFF_UNICAST_FLT
        lab.Port.JoinGroup(lab["V"], Group);
        lab.Wire(Make(Group, Ext));
        Assert.Equal("L", lab.Got());
        Assert.Equal(1, lab.Port.Counters[DropReason.BroadcastQueueFull]);
    }

    [Fact]
    public void Q05_the_used_length_is_the_largest_request_down_endpoints_included()
    {
        var port = new Port(new LowerDevice("l", Mac("02:00:00:00:00:01")));
        var a = port.Create(new EndpointSettings { Name = "a", BcQueueLen = 0 });
        var b = port.Create(new EndpointSettings { Name = "b", BcQueueLen = 5 });
        Assert.Equal(5u, port.BcQueueLenUsed);
        port.Change(a, new EndpointChange { BcQueueLen = 5000 });
        Assert.Equal(5000u, port.BcQueueLenUsed);
        port.Delete(a);
        Assert.Equal(5u, port.BcQueueLenUsed);
        port.Delete(b);
        Assert.Equal(0u, port.BcQueueLenUsed);
    }

    [Fact]
    public void Q06_a_burst_beyond_the_queue_length_is_bounded_and_the_rest_counted()
    {
        var lab = WithQueueLength(5);
        var sink = new CountingSink();
        var table = lab.Port.Table;
        for (int i = 0; i < 2000; i++)
            Forwarding.Forwarder.Receive(table, new VnetFrame(Make(MacAddress.Broadcast, Ext)), ref sink);
        Assert.Equal(2000, sink.LowerStack);
        Forwarding.Forwarder.ProcessBroadcasts(table, ref sink);
        Assert.Equal(5 * 5, sink.Endpoints); // 5 frames to the 5 non-source endpoints
        Assert.Equal(1995, lab.Port.Counters[DropReason.BroadcastQueueFull]);
    }

    [Fact]
    public void Q07_a_queued_broadcast_is_overtaken_by_later_unicast_but_not_with_cutoff_minus_one()
    {
        foreach (var (cutoff, broadcastFirst) in new[] { (1, false), (-1, true) })
        {
            var lab = new SpecLab();
            lab.Port.Change(lab["B"], new EndpointChange { BcCutoff = cutoff });
            var sink = new OrderSink();
            var table = lab.Port.Table;
            Forwarding.Forwarder.Receive(table, new VnetFrame(Make(MacAddress.Broadcast, Ext)), ref sink);
            Forwarding.Forwarder.Receive(table, new VnetFrame(Make(lab.Mac("B"), Ext)), ref sink);
            Forwarding.Forwarder.ProcessBroadcasts(table, ref sink);
            Assert.Equal(broadcastFirst, sink.Order.IndexOf("B:Broadcast") < sink.Order.IndexOf("B:Host"));
        }
    }

    private struct CountingSink : Forwarding.IDeliverySink
    {
        public int Endpoints, Wire, LowerStack;
        public void ToEndpoint(Forwarding.EndpointSnapshot endpoint, in VnetFrame packet, Forwarding.DeliveryKind kind) => Endpoints++;
        public void ToWire(in VnetFrame packet) => Wire++;
        public void ToLowerStack(in VnetFrame packet) => LowerStack++;
    }

    private sealed class OrderSink : Forwarding.IDeliverySink
    {
        public readonly List<string> Order = [];
        public void ToEndpoint(Forwarding.EndpointSnapshot endpoint, in VnetFrame packet, Forwarding.DeliveryKind kind) => Order.Add($"{endpoint.Endpoint.Name}:{kind}");
        public void ToWire(in VnetFrame packet) => Order.Add("wire");
        public void ToLowerStack(in VnetFrame packet) => Order.Add("L");
    }
}
