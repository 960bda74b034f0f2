// spec 7.1: the receive side, each catalogue case that needs no real device.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using static Mvtap.Core.Tests.Frames;

namespace Mvtap.Core.Tests;

public class ReceiveConformanceTests
{
    [Theory]
    [InlineData("P")] [InlineData("V")] [InlineData("V2")] [InlineData("B")] [InlineData("B2")]
    public void R01_wire_unicast_to_an_endpoint_reaches_exactly_it(string name)
    {
        var lab = new SpecLab();
        lab.Wire(Make(lab.Mac(name), Ext));
        Assert.Equal(name, lab.Got());
    }

    [Fact]
    public void R02_wire_unicast_to_a_source_endpoint_goes_to_the_lower_stack_only()
    {
        var lab = new SpecLab();
        lab.Wire(Make(lab.Mac("S"), Ext));
        Assert.Equal("L", lab.Got());
    }

    [Fact]
    public void R03_wire_unicast_to_unknown_or_lower_mac_goes_to_the_lower_stack_only()
    {
        var lab = new SpecLab();
        lab.Wire(Make(Unknown, Ext));
        Assert.Equal("L", lab.Got());
        lab.Wire(Make(lab.LM, Ext));
        Assert.Equal("L", lab.Got());
    }

    [Fact]
    public void R04_wire_unicast_to_a_down_endpoint_is_passed_to_the_lower()
    {
        var lab = new SpecLab();
        lab.Port.SetUp(lab["B2"], false);
        lab.Wire(Make(lab.Mac("B2"), Ext));
        Assert.Equal("L", lab.Got());
    }

    [Fact]
    public void R05_wire_broadcast_reaches_every_endpoint_but_source_mode_and_the_lower()
    {
        var lab = new SpecLab();
        lab.Wire(Make(MacAddress.Broadcast, Ext));
        Assert.Equal("B,B2,P,V,V2,L", lab.Got());
    }

    [Fact]
    public void R06_wire_multicast_to_an_unjoined_group_reaches_only_the_lower()
    {
        var lab = new SpecLab();
        lab.Wire(Make(Group, Ext));
        Assert.Equal("L", lab.Got());
    }

    [Fact]
    public void R07_wire_multicast_reaches_the_endpoints_that_joined()
    {
        var lab = new SpecLab();
        lab.Port.JoinGroup(lab["V"], Group);
        lab.Wire(Make(Group, Ext));
        Assert.Equal("V,L", lab.Got());
        lab.Port.JoinGroup(lab["B"], Group);
        lab.Wire(Make(Group, Ext));
        Assert.Equal("B,V,L", lab.Got());
    }

    [Fact]
    public void R08_an_allmulticast_endpoint_receives_unjoined_groups()
    {
        var lab = new SpecLab();
        lab.Port.Change(lab["P"], new EndpointChange { AllMulti = true });
        lab.Wire(Make(Group, Ext));
        Assert.Equal("P,L", lab.Got());
    }

    [Fact]
    public void R09_reflected_broadcast_from_vepa_reaches_vepa_and_bridge_but_the_sender()
    {
        var lab = new SpecLab();
        lab.Wire(Make(MacAddress.Broadcast, lab.Mac("V")));
        Assert.Equal("B,B2,V2,L", lab.Got());
    }

    [Fact]
    public void R10_reflected_broadcast_from_bridge_reaches_vepa_only()
    {
        var lab = new SpecLab();
        lab.Wire(Make(MacAddress.Broadcast, lab.Mac("B")));
        Assert.Equal("V,V2,L", lab.Got());
    }

    [Fact]
    public void R11_reflected_broadcast_from_private_returns_only_to_it_and_not_the_lower()
    {
        var lab = new SpecLab();
        lab.Wire(Make(MacAddress.Broadcast, lab.Mac("P")));
        Assert.Equal("P", lab.Got());
    }

    [Fact]
    public void R12_reflected_broadcast_from_a_source_endpoint_returns_only_to_it()
    {
        var lab = new SpecLab();
        lab.Wire(Make(MacAddress.Broadcast, lab.Mac("S")));
        Assert.Equal("S", lab.Got());
    }

    [Fact]
    public void R13_broadcast_from_the_lower_mac_is_treated_as_external()
    {
        var lab = new SpecLab();
        lab.Wire(Make(MacAddress.Broadcast, lab.LM));
        Assert.Equal("B,B2,P,V,V2,L", lab.Got());
    }

    [Fact]
    public void R14_reflected_unicast_between_private_and_vepa_is_delivered()
    {
        var lab = new SpecLab();
        lab.Wire(Make(lab.Mac("V"), lab.Mac("P")));
        Assert.Equal("V", lab.Got());
        lab.Wire(Make(lab.Mac("P"), lab.Mac("V")));
        Assert.Equal("P", lab.Got());
    }

    private static SpecLab SourceLab(EndpointFlags flags = EndpointFlags.None)
    {
        var lab = new SpecLab();
        lab.Port.Change(lab["S"], new EndpointChange { Flags = flags, MacaddrOp = MacaddrOperation.Add, Macaddr = Ext });
        return lab;
    }

    [Fact]
    public void R15_a_listed_source_to_an_unknown_mac_reaches_the_source_endpoint_and_the_lower()
    {
        var lab = SourceLab();
        lab.Wire(Make(Unknown, Ext));
        Assert.Equal("S,L", lab.Got());
    }

    [Fact]
    public void R16_a_listed_source_to_a_bridge_endpoint_reaches_both()
    {
        var lab = SourceLab();
        lab.Wire(Make(lab.Mac("B"), Ext));
        Assert.Equal("B,S", lab.Got());
    }

    [Fact]
    public void R17_broadcast_from_a_listed_source_reaches_everyone_and_the_lower()
    {
        var lab = SourceLab();
        lab.Wire(Make(MacAddress.Broadcast, Ext));
        Assert.Equal("B,B2,P,S,V,V2,L", lab.Got());
    }

    [Fact]
    public void R18_nodst_gives_a_listed_source_only_to_the_source_endpoint()
    {
        var lab = SourceLab(EndpointFlags.NoDst);
        lab.Wire(Make(lab.Mac("B"), Ext));
        Assert.Equal("S", lab.Got());
        lab.Wire(Make(MacAddress.Broadcast, Ext));
        Assert.Equal("S", lab.Got());
    }

    [Fact]
    public void R19_nodst_consumes_even_when_the_source_endpoint_is_down_and_counts_the_drop()
    {
        var lab = SourceLab(EndpointFlags.NoDst);
        lab.Port.SetUp(lab["S"], false);
        lab.Wire(Make(lab.Mac("B"), Ext));
        Assert.Equal("", lab.Got());
        Assert.Equal(1, lab.Port.Counters[DropReason.NoDstConsumed]);
    }

    [Fact]
    public void R20_two_source_endpoints_listing_the_same_mac_both_get_a_copy()
    {
        var lab = new SpecLab(false, true, ("S", EndpointMode.Source), ("S2", EndpointMode.Source));
        lab.Port.Change(lab["S"], new EndpointChange { MacaddrOp = MacaddrOperation.Add, Macaddr = Ext });
        lab.Port.Change(lab["S2"], new EndpointChange { MacaddrOp = MacaddrOperation.Add, Macaddr = Ext });
        lab.Wire(Make(Unknown, Ext));
        Assert.Equal("S,S2,L", lab.Got());
    }

    [Fact]
    public void R21_a_listed_source_to_the_source_endpoints_own_mac_gives_one_copy()
    {
        var lab = SourceLab();
        lab.Wire(Make(lab.Mac("S"), Ext));
        Assert.Equal("S,L", lab.Got());
    }

    [Fact]
    public void R22_pause_broadcast_reaches_no_endpoint_but_pause_unicast_is_delivered()
    {
        var lab = new SpecLab();
        lab.Wire(Make(MacAddress.Broadcast, Ext, EthernetFrame.EtherTypePause));
        Assert.Equal("L", lab.Got());
        lab.Wire(Make(lab.Mac("B"), Ext, EthernetFrame.EtherTypePause));
        Assert.Equal("B", lab.Got());
    }

    // Found by the randomized differential tester (seed 36): the kernel's receive path moves an outer
    // VLAN tag into metadata (skb_vlan_untag) before macvlan's rx_handler, so skb->protocol is PAUSE.
    [Fact]
    public void R22_a_vlan_tagged_pause_broadcast_is_not_flooded_either_as_the_kernel_untags_it_first()
    {
        var lab = new SpecLab();
        lab.Wire(MakeTagged(MacAddress.Broadcast, Ext, EthernetFrame.EtherTypePause));
        Assert.Equal("L", lab.Got());
        lab.Port.Change(lab["V"], new EndpointChange { Promisc = true });
        lab.Wire(MakeTagged(Mac("01:80:c2:00:00:01"), Ext, EthernetFrame.EtherTypePause));
        Assert.Equal("L", lab.Got());
    }

    [Fact]
    public void R24_vlan_tagged_frames_are_delivered_byte_identical()
    {
        var lab = new SpecLab();
        var f = Make(lab.Mac("B"), Ext, EthernetFrame.EtherTypeVlan, 64);
        f[14] = 0x00; f[15] = 0x2a; f[16] = 0x88; f[17] = 0xb5;
        lab.Wire(f);
        Assert.Equal(f, Assert.Single(lab.Ep["B"].Inbox).Frame);
    }

    private static SpecLab PassthruLab(EndpointFlags flags = EndpointFlags.None)
    {
        var lab = new SpecLab(false, true, ("T", EndpointMode.Passthru));
        lab.Port.Change(lab["T"], new EndpointChange { Flags = flags });
        return lab;
    }

    [Fact]
    public void R25_passthru_receives_every_unicast_and_the_lower_stack_none()
    {
        var lab = PassthruLab();
        lab.Wire(Make(Unknown, Ext));
        Assert.Equal("T", lab.Got());
        lab.Wire(Make(lab.LM, Ext));
        Assert.Equal("T", lab.Got());
    }

    [Fact]
    public void R26_unicast_to_a_down_passthru_reaches_nobody_and_is_counted()
    {
        var lab = PassthruLab();
        lab.Port.SetUp(lab["T"], false);
        lab.Wire(Make(Unknown, Ext));
        Assert.Equal("", lab.Got());
        Assert.Equal(1, lab.Port.Counters[DropReason.PassthruDown]);
    }

    [Fact]
    public void R27_broadcast_from_the_passthru_mac_returns_only_to_it()
    {
        var lab = PassthruLab();
        lab.Wire(Make(MacAddress.Broadcast, lab.LM));
        Assert.Equal("T", lab.Got());
    }
}
