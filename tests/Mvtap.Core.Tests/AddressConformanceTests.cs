// spec 7.4: addresses, modes, state and the errors the kernel answers with.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using static Mvtap.Core.Tests.Frames;

namespace Mvtap.Core.Tests;

public class AddressConformanceTests
{
    private static readonly MacAddress LM = Mac("02:00:00:00:00:01");
    private static Port NewPort(int mtu = 1500) => new(new LowerDevice("eth1", LM, mtu), new Random(7));

    private static Errno Fails(Action a) => Assert.Throws<MvtapException>(a).Errno;

    [Fact]
    public void A01_an_endpoint_with_the_lower_mac_is_created_but_cannot_go_up()
    {
        var port = NewPort();
        var ep = port.Create(new EndpointSettings { Name = "m0", Mac = LM });
        Assert.Equal(Errno.EADDRINUSE, Fails(() => port.SetUp(ep, true)));
    }

    [Fact]
    public void A02_two_endpoints_with_one_mac_are_created_and_the_second_up_fails()
    {
        var port = NewPort();
        var a = port.Create(new EndpointSettings { Name = "a", Mac = Mac("1a:46:0b:ca:bc:7b") });
        var b = port.Create(new EndpointSettings { Name = "b", Mac = Mac("1a:46:0b:ca:bc:7b") });
        port.SetUp(a, true);
        var e = Assert.Throws<MvtapException>(() => port.SetUp(b, true));
        Assert.Equal(Errno.EADDRINUSE, e.Errno);
        Assert.Contains("in use by a", e.Message);
    }

    [Fact]
    public void A03_a_down_endpoint_may_take_a_down_peers_mac_but_not_the_lowers_or_an_up_peers()
    {
        var port = NewPort();
        var up = port.Create(new EndpointSettings { Name = "up", Mac = Mac("1a:00:00:00:00:01") });
        var down = port.Create(new EndpointSettings { Name = "down", Mac = Mac("1a:00:00:00:00:02") });
        var ep = port.Create(new EndpointSettings { Name = "ep" });
        port.SetUp(up, true);
        Assert.Equal(Errno.EADDRINUSE, Fails(() => port.SetMac(ep, LM)));
        Assert.Equal(Errno.EADDRINUSE, Fails(() => port.SetMac(ep, up.Mac)));
        port.SetMac(ep, down.Mac);
        Assert.Equal(down.Mac, ep.Mac);
    }

    [Theory]
    [InlineData("03:00:00:00:00:01")] [InlineData("00:00:00:00:00:00")]
    public void A04_a_multicast_or_zero_mac_is_not_available(string mac)
    {
        var port = NewPort();
        var ep = port.Create(new EndpointSettings { Name = "ep" });
        Assert.Equal(Errno.EADDRNOTAVAIL, Fails(() => port.SetMac(ep, Mac(mac))));
        Assert.Equal(Errno.EADDRNOTAVAIL, Fails(() => port.Create(new EndpointSettings { Name = "x", Mac = Mac(mac) })));
    }

    [Fact]
    public void A05_a_mac_change_while_up_moves_delivery_to_the_new_mac()
    {
        var lab = new SpecLab();
        var old = lab.Mac("V");
        lab.Port.SetMac(lab["V"], Mac("1a:00:00:00:00:77"));
        lab.Wire(Make(Mac("1a:00:00:00:00:77"), Ext));
        Assert.Equal("V", lab.Got());
        lab.Wire(Make(old, Ext));
        Assert.Equal("L", lab.Got());
        Assert.Contains(Mac("1a:00:00:00:00:77"), lab.Port.UnicastFilter);
        Assert.DoesNotContain(old, lab.Port.UnicastFilter);
    }

    [Fact]
    public void A08_mtu_above_the_lower_is_refused_and_a_lower_decrease_clamps()
    {
        var port = NewPort(1500);
        Assert.Equal(Errno.EINVAL, Fails(() => port.Create(new EndpointSettings { Name = "big", Mtu = 1501 })));
        var ep = port.Create(new EndpointSettings { Name = "ep" });
        Assert.Equal(1500, ep.Mtu);
        Assert.Equal(Errno.EINVAL, Fails(() => port.Change(ep, new EndpointChange { Mtu = 9000 })));
        Assert.Equal(Errno.EINVAL, Fails(() => port.Change(ep, new EndpointChange { Mtu = 67 })));
        port.OnLowerMtuChanged(1400);
        Assert.Equal(1400, ep.Mtu);
        port.OnLowerMtuChanged(9000);
        Assert.Equal(1400, ep.Mtu);
    }

    [Fact]
    public void A10_endpoints_stay_admin_up_without_carrier_and_recover()
    {
        var port = NewPort();
        var ep = port.Create(new EndpointSettings { Name = "ep" });
        port.SetUp(ep, true);
        port.OnLowerStateChanged(up: true, carrier: false);
        Assert.True(ep.IsUp);
        Assert.Equal("LOWERLAYERDOWN", ep.OperState);
        port.OnLowerStateChanged(up: false, carrier: false);
        var ep2 = port.Create(new EndpointSettings { Name = "ep2" });
        port.SetUp(ep2, true); // allowed while the lower is down
        Assert.Equal("LOWERLAYERDOWN", ep2.OperState);
        port.OnLowerStateChanged(up: true, carrier: true);
        Assert.Equal("UP", ep.OperState);
        Assert.Equal("UP", ep2.OperState);
    }

    [Fact]
    public void A12_passthru_needs_an_empty_port_and_then_owns_it()
    {
        var port = NewPort();
        var other = port.Create(new EndpointSettings { Name = "v" });
        Assert.Equal(Errno.EINVAL, Fails(() => port.Create(new EndpointSettings { Name = "t", Mode = EndpointMode.Passthru })));
        port.Delete(other);
        port.Create(new EndpointSettings { Name = "t", Mode = EndpointMode.Passthru });
        Assert.Equal(Errno.EINVAL, Fails(() => port.Create(new EndpointSettings { Name = "v2" })));
    }

    [Fact]
    public void A13_passthru_takes_the_lower_mac_whatever_is_asked()
    {
        var port = NewPort();
        var t = port.Create(new EndpointSettings { Name = "t", Mode = EndpointMode.Passthru, Mac = Mac("1a:00:00:00:00:09") });
        Assert.Equal(LM, t.Mac);
    }

    [Theory]
    [InlineData(EndpointFlags.None, 1)] [InlineData(EndpointFlags.NoPromisc, 0)]
    public void A14_passthru_up_makes_the_lower_promiscuous_unless_nopromisc(EndpointFlags flags, int promiscuity)
    {
        var port = NewPort();
        var t = port.Create(new EndpointSettings { Name = "t", Mode = EndpointMode.Passthru, Flags = flags });
        Assert.Equal(0, port.Table.LowerPromiscuity);
        port.SetUp(t, true);
        Assert.Equal(promiscuity, port.Table.LowerPromiscuity);
        port.SetUp(t, false);
        Assert.Equal(0, port.Table.LowerPromiscuity);
    }

    [Fact]
    public void A15_a_passthru_mac_change_moves_the_lowers_mac_and_deletion_restores_it()
    {
        var port = NewPort();
        MacAddress? requested = null;
        port.LowerMacApplier = m => requested = m;
        var t = port.Create(new EndpointSettings { Name = "t", Mode = EndpointMode.Passthru });
        port.SetMac(t, Mac("1a:00:00:00:00:42"));
        Assert.Equal(Mac("1a:00:00:00:00:42"), port.Lower.Mac);
        Assert.Equal(Mac("1a:00:00:00:00:42"), requested);
        port.Delete(t);
        Assert.Equal(LM, port.Lower.Mac);
        Assert.Equal(LM, requested);
    }

    [Fact]
    public void A16_an_external_lower_mac_change_is_followed_and_not_restored()
    {
        var port = NewPort();
        var t = port.Create(new EndpointSettings { Name = "t", Mode = EndpointMode.Passthru });
        port.OnLowerMacChanged(Mac("1a:00:00:00:00:43"));
        Assert.Equal(Mac("1a:00:00:00:00:43"), t.Mac);
        port.Delete(t);
        Assert.Equal(Mac("1a:00:00:00:00:43"), port.Lower.Mac);
    }

    [Theory]
    [InlineData(EndpointMode.Vepa, EndpointMode.Passthru)]
    [InlineData(EndpointMode.Passthru, EndpointMode.Bridge)]
    public void A17_the_mode_cannot_change_to_or_from_passthru(EndpointMode from, EndpointMode to)
    {
        var port = NewPort();
        var ep = port.Create(new EndpointSettings { Name = "ep", Mode = from });
        Assert.Equal(Errno.EINVAL, Fails(() => port.SetMode(ep, to)));
        Assert.Equal(from, ep.Mode);
    }

    [Fact]
    public void A18_bad_attributes_are_refused_with_the_kernels_errors()
    {
        var port = NewPort();
        Assert.Equal(Errno.EINVAL, Fails(() => port.Create(new EndpointSettings { Name = "a", Mode = (EndpointMode)3 })));
        Assert.Equal(Errno.EINVAL, Fails(() => port.Create(new EndpointSettings { Name = "a", Mode = (EndpointMode)32 })));
        Assert.Equal(Errno.EINVAL, Fails(() => port.Create(new EndpointSettings { Name = "a", Flags = (EndpointFlags)4 })));
        Assert.Equal(Errno.EINVAL, Fails(() => port.Create(new EndpointSettings { Name = "a", MacaddrOp = (MacaddrOperation)4, Mode = EndpointMode.Source })));
        Assert.Equal(Errno.EINVAL, Fails(() => port.Create(new EndpointSettings { Name = "a", MacaddrOp = MacaddrOperation.Flush, Mode = EndpointMode.Bridge })));
        Assert.Equal(Errno.EINVAL, Fails(() => port.Create(new EndpointSettings { Name = "a", MacaddrOp = MacaddrOperation.Add, Mode = EndpointMode.Source })));
        Assert.Equal(Errno.EADDRNOTAVAIL, Fails(() => port.Create(new EndpointSettings { Name = "a", Mode = EndpointMode.Source, MacaddrOp = MacaddrOperation.Add, Macaddr = Mac("01:00:00:00:00:01") })));
        Assert.Empty(port.Endpoints);
    }

    [Fact]
    public void A19_source_list_operations_follow_the_kernel()
    {
        var port = NewPort();
        var s = port.Create(new EndpointSettings { Name = "s", Mode = EndpointMode.Source });
        MacAddress a = Mac("1a:00:00:00:00:0a"), b = Mac("1a:00:00:00:00:0b"), c = Mac("1a:00:00:00:00:0c"), d = Mac("1a:00:00:00:00:0d");
        port.Change(s, new EndpointChange { MacaddrOp = MacaddrOperation.Set, MacaddrData = [a, b, a] });
        Assert.Equal([a, b], s.SourceList);
        port.Change(s, new EndpointChange { MacaddrOp = MacaddrOperation.Delete, Macaddr = c });
        port.Change(s, new EndpointChange { MacaddrOp = MacaddrOperation.Delete, Macaddr = a });
        Assert.Equal([b], s.SourceList);
        port.Change(s, new EndpointChange { MacaddrOp = MacaddrOperation.Set, Macaddr = c, MacaddrData = [d] });
        Assert.Equal([c, d], s.SourceList);
        port.Change(s, new EndpointChange { MacaddrOp = MacaddrOperation.Flush });
        Assert.Empty(s.SourceList);
        port.Change(s, new EndpointChange { MacaddrOp = MacaddrOperation.Add, Macaddr = a });
        port.SetMode(s, EndpointMode.Bridge);
        Assert.Empty(s.SourceList);
    }

    [Fact]
    public void A20_the_default_mode_is_vepa()
    {
        Assert.Equal(EndpointMode.Vepa, NewPort().Create(new EndpointSettings { Name = "ep" }).Mode);
    }

    [Fact]
    public void A_refused_change_applies_nothing()
    {
        var port = NewPort();
        var ep = port.Create(new EndpointSettings { Name = "ep", Mode = EndpointMode.Source });
        // a valid mode change with an invalid source operation: the kernel keeps the new mode (Q14); mvtap applies nothing
        Assert.Equal(Errno.EINVAL, Fails(() => port.Change(ep, new EndpointChange { Mode = EndpointMode.Bridge, MacaddrOp = MacaddrOperation.Flush })));
        Assert.Equal(EndpointMode.Source, ep.Mode);
    }

    [Fact]
    public void Deleting_the_last_endpoint_resets_the_ports_cutoff()
    {
        var port = NewPort();
        var ep = port.Create(new EndpointSettings { Name = "ep", BcCutoff = -1 });
        Assert.Equal(-1, port.BcCutoff);
        port.Delete(ep);
        Assert.Equal(Port.DefaultBcCutoff, port.BcCutoff);
    }
}
