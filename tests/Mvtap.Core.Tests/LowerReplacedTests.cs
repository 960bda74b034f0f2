// A lower opened anew (come back after a deletion, or followed into another namespace) is a new
// device under the same port: the port takes its MAC, MTU (clamping endpoints, spec 4.3), state and
// unicast filtering, and keeps its endpoints; a passthru port asks the new device for its
// endpoint's MAC (spec 4.4) and follows the device's (A16) when it is refused. A rename keeps all.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;

namespace Mvtap.Core.Tests;

public sealed class LowerReplacedTests
{
    private static readonly MacAddress Old = MacAddress.Parse("02:00:00:00:00:01");
    private static readonly MacAddress New = MacAddress.Parse("02:00:00:00:00:02");

    [Fact]
    public void A_reopened_lower_brings_its_own_facts_and_the_endpoints_keep_their_configuration()
    {
        var port = new Port(new LowerDevice("eth1", Old, mtu: 9000));
        var ep = port.Create(new EndpointSettings { Name = "a", Mode = EndpointMode.Bridge, Mtu = 9000 });
        port.SetUp(ep, true);
        port.OnLowerStateChanged(up: false, carrier: false);
        int changes = 0;
        port.Changed += _ => changes++;

        port.OnLowerReplaced(New, mtu: 1500, maxMtu: 1600, supportsUnicastFilter: false, up: true, carrier: true);
        Assert.Equal(1, changes);
        Assert.Equal((New, 1500, 1600, false, true), (port.Lower.Mac, port.Lower.Mtu, port.Lower.MaxMtu, port.Lower.SupportsUnicastFilter, port.Lower.IsOperational));
        Assert.Equal(New, port.PermanentMac);
        Assert.Equal((1500, EndpointMode.Bridge, true, "UP"), (ep.Mtu, ep.Mode, ep.IsUp, ep.OperState));
        Assert.True(port.Table.LowerOperational);

        port.OnLowerRenamed("eth2");
        Assert.Equal("eth2", port.Lower.Name);
        Assert.Equal(2, changes);
    }

    [Fact]
    public void A_passthru_port_asks_the_new_device_for_its_endpoints_MAC_and_follows_the_device_when_refused()
    {
        var port = new Port(new LowerDevice("eth1", Old));
        var asked = new List<MacAddress>();
        port.LowerMacApplier = asked.Add;
        var ep = port.Create(new EndpointSettings { Name = "t", Mode = EndpointMode.Passthru });
        Assert.Equal(Old, ep.Mac);

        port.OnLowerReplaced(New, 1500, 65535, true, true, true);
        Assert.Equal([Old], asked);
        Assert.Equal((Old, Old, New), (port.Lower.Mac, ep.Mac, port.PermanentMac));

        port.LowerMacApplier = _ => throw new MvtapException(Errno.EBUSY, "refused");
        var newer = MacAddress.Parse("02:00:00:00:00:03");
        port.OnLowerReplaced(newer, 1500, 65535, true, true, true);
        Assert.Equal((newer, newer), (port.Lower.Mac, ep.Mac));
        port.SetUp(ep, true); // the port takes changes again after the device's refusal
        Assert.True(ep.IsUp);
    }
}
