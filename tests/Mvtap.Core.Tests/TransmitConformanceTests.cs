// spec 7.2: the transmit side, and design.md's spoofchk.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using static Mvtap.Core.Tests.Frames;

namespace Mvtap.Core.Tests;

public class TransmitConformanceTests
{
    [Fact]
    public void X01_bridge_unicast_to_a_bridge_endpoint_stays_inside_the_host()
    {
        var lab = new SpecLab();
        lab.Send("B", Make(lab.Mac("B2"), lab.Mac("B")));
        Assert.Equal("B2", lab.Got());
        Assert.False(lab.OnWire);
    }

    [Theory]
    [InlineData("V")] [InlineData("P")] [InlineData("LM")]
    public void X02_bridge_unicast_to_a_non_bridge_mac_goes_to_the_wire_only(string to)
    {
        var lab = new SpecLab();
        lab.Send("B", Make(to == "LM" ? lab.LM : lab.Mac(to), lab.Mac("B")));
        Assert.Equal("", lab.Got());
        Assert.True(lab.OnWire);
    }

    [Theory]
    [InlineData("V", "V2")] [InlineData("V", "B")] [InlineData("P", "B")] [InlineData("S", "B")]
    public void X03_vepa_private_and_source_always_transmit_to_the_wire(string from, string to)
    {
        var lab = new SpecLab();
        lab.Send(from, Make(lab.Mac(to), lab.Mac(from)));
        Assert.Equal("", lab.Got());
        Assert.True(lab.OnWire);
    }

    [Fact]
    public void X04_bridge_broadcast_reaches_the_other_bridge_endpoints_and_the_wire_not_the_lower()
    {
        var lab = new SpecLab();
        lab.Send("B", Make(MacAddress.Broadcast, lab.Mac("B")));
        Assert.Equal("B2", lab.Got());
        Assert.True(lab.OnWire);
    }

    // spec 2: macvlan_broadcast returns early for PAUSE by skb->protocol, which for a raw frame an
    // endpoint sends is its outer ethertype: behind a VLAN tag it is the tag's, and the copy goes out.
    [Fact]
    public void X04_a_bridge_endpoints_pause_broadcast_is_not_flooded_but_a_vlan_tagged_one_is()
    {
        var lab = new SpecLab();
        lab.Send("B", Make(MacAddress.Broadcast, lab.Mac("B"), EthernetFrame.EtherTypePause));
        Assert.Equal("", lab.Got());
        Assert.True(lab.OnWire);
        lab.Send("B", MakeTagged(MacAddress.Broadcast, lab.Mac("B"), EthernetFrame.EtherTypePause));
        Assert.Equal("B2", lab.Got());
    }

    [Theory]
    [InlineData("V")] [InlineData("P")] [InlineData("S")]
    public void X05_broadcast_from_vepa_private_or_source_goes_to_the_wire_only(string from)
    {
        var lab = new SpecLab();
        lab.Send(from, Make(MacAddress.Broadcast, lab.Mac(from)));
        Assert.Equal("", lab.Got());
        Assert.True(lab.OnWire);
    }

    [Fact]
    public void X06_the_lower_stack_reaches_no_endpoint_without_a_reflection()
    {
        var lab = new SpecLab();
        lab.Net.ClearInboxes();
        lab.Net.LowerStack.Send(Make(lab.Mac("B"), lab.LM));
        lab.Net.LowerStack.Send(Make(MacAddress.Broadcast, lab.LM));
        Assert.Equal("", lab.Got());
        Assert.True(lab.OnWire);
    }

    [Fact]
    public void X07_bridge_unicast_to_a_down_bridge_endpoint_goes_to_the_wire()
    {
        var lab = new SpecLab();
        lab.Port.SetUp(lab["B2"], false);
        lab.Send("B", Make(lab.Mac("B2"), lab.Mac("B")));
        Assert.Equal("", lab.Got());
        Assert.True(lab.OnWire);
    }

    [Fact]
    public void X08_a_mode_change_to_bridge_takes_effect_for_the_next_frame()
    {
        var lab = new SpecLab();
        lab.Port.SetMode(lab["V"], EndpointMode.Bridge);
        lab.Send("B", Make(lab.Mac("V"), lab.Mac("B")));
        Assert.Equal("V", lab.Got());
    }

    [Theory]
    [InlineData(false, true)] [InlineData(true, false)]
    public void X09_without_carrier_or_with_the_lower_down_nothing_is_delivered(bool up, bool carrier)
    {
        var lab = new SpecLab();
        lab.Port.OnLowerStateChanged(up, carrier);
        lab.Send("B", Make(lab.Mac("B2"), lab.Mac("B")));
        lab.Ep["B"].Send(Make(MacAddress.Broadcast, lab.Mac("B")));
        Assert.Equal("", lab.Got());
        Assert.False(lab.OnWire);
        Assert.Equal(2, lab["B"].Counters[DropReason.NoCarrier]);
    }

    [Theory]
    [InlineData(1514, true)] [InlineData(1518, true)] [InlineData(1519, false)] [InlineData(2000, false)]
    public void X10_bridge_local_delivery_enforces_the_mtu_plus_18(int length, bool delivered)
    {
        var lab = new SpecLab();
        lab.Send("B", Make(lab.Mac("B2"), lab.Mac("B"), length: length));
        Assert.Equal(delivered ? "B2" : "", lab.Got());
        if (!delivered) Assert.Equal(1, lab.Port.Counters[DropReason.Mtu]);
    }

    [Fact]
    public void X11_bridge_local_unicast_passes_source_lists_and_nodst_takes_it()
    {
        var lab = new SpecLab();
        lab.Port.Change(lab["S"], new EndpointChange { Flags = EndpointFlags.NoDst, MacaddrOp = MacaddrOperation.Add, Macaddr = lab.Mac("B") });
        lab.Send("B", Make(lab.Mac("B2"), lab.Mac("B")));
        Assert.Equal("S", lab.Got());
    }

    [Fact]
    public void Spoofchk_on_drops_and_counts_a_foreign_source_mac()
    {
        var lab = new SpecLab();
        lab.Port.Change(lab["V"], new EndpointChange { SpoofCheck = true });
        lab.Send("V", Make(Ext, Mac("02:de:ad:be:ef:00")));
        Assert.False(lab.OnWire);
        Assert.Equal(1, lab["V"].Counters[DropReason.SpoofedSource]);
        Assert.Equal(1, lab["V"].Counters.TxDropped);
    }

    [Fact]
    public void Spoofchk_off_sends_spoofed_and_multicast_sources_unchanged_as_the_kernel_does()
    {
        var lab = new SpecLab();
        var spoofed = Make(Ext, Mac("02:de:ad:be:ef:00"));
        var multicastSource = Make(Ext, Mac("03:de:ad:be:ef:00"));
        lab.Send("V", spoofed);
        Assert.Equal(spoofed, Assert.Single(lab.Net.Wire));
        lab.Send("V", multicastSource);
        Assert.Equal(multicastSource, Assert.Single(lab.Net.Wire));
    }

    [Fact]
    public void Spoofchk_is_on_by_default()
    {
        var port = new Port(new LowerDevice("l", Mac("02:00:00:00:00:01")));
        Assert.True(port.Create(new EndpointSettings { Name = "e" }).SpoofCheck);
    }

    [Fact]
    public void A_down_endpoints_transmit_is_dropped_and_counted()
    {
        var lab = new SpecLab();
        lab.Port.SetUp(lab["V"], false);
        lab.Send("V", Make(Ext, lab.Mac("V")));
        Assert.False(lab.OnWire);
        Assert.Equal(1, lab["V"].Counters[DropReason.EndpointDown]);
    }

    [Fact]
    public void Port_counters_count_the_wire_in_both_directions_but_not_bridge_local_frames()
    {
        var lab = new SpecLab();
        lab.Send("V", Make(Ext, lab.Mac("V"), length: 100));
        lab.Send("B", Make(lab.Mac("B2"), lab.Mac("B"), length: 80)); // re-enters the lower's RX path internally
        Assert.Equal((1, 80L), (lab["B2"].Counters.RxPackets, lab["B2"].Counters.RxBytes));
        lab.Wire(Make(MacAddress.Broadcast, Ext, length: 64));
        var c = lab.Port.Counters;
        Assert.Equal((1, 100L), (c.TxPackets, c.TxBytes));
        Assert.Equal((1, 64L, 1L), (c.RxPackets, c.RxBytes, c.RxMulticast));
    }
}
