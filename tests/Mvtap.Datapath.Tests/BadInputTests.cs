// Bad input on an endpoint's attachment is dropped, counted, and forwarding carries on: a
// frame with a forged source MAC (spoofchk, design.md) sent for real on the endpoint's veth, and
// a frame shorter than an Ethernet header. The kernel never hands AF_PACKET a frame under 14
// bytes from a veth (dev_validate_header refuses to send one), so that one is put on the
// datapath thread's endpoint path directly.
using Mvtap.Core.Model;
using Mvtap.Datapath;
using Mvtap.Linux;
using Mvtap.Linux.Netlink;

namespace Mvtap.Datapath.Tests;

[Collection("datapath")]
public sealed class BadInputTests
{
    [Fact]
    public void MalformedAndSpoofedFramesAreDroppedAndCountedAndTrafficFlows()
    {
        using var topo = new DatapathTopology();
        var nsA = topo.NewNamespace();
        using var sw = new DatapathSwitch(topo.Host.Name);
        var dp = sw.OpenLower(DatapathTopology.LowerName);
        var ep = sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "a" }, nsA.Name, "eth0");
        DatapathTopology.Address(nsA, "eth0", 2);
        Assert.True(DatapathTopology.Ping(nsA.Name, DatapathTopology.ExtIp, attempts: 3));

        // A forged source, sent by the "container" on its own NIC.
        int inner;
        using (var rtnl = Rtnetlink.InNamespace(nsA.Name)) inner = rtnl.GetLink("eth0")!.Index;
        using (var raw = NetNamespace.Run(nsA.Name, () => new PacketSocket(inner)))
            Assert.True(raw.Send(TestNet.Frame(Core.Frames.MacAddress.Broadcast, TestNet.RandomMac(), 7)));
        Assert.True(TestNet.WaitFor(() => ep.Counters[DropReason.SpoofedSource], n => n >= 1) >= 1);

        // Too short for an Ethernet header: 0 and 13 bytes.
        var attachment = sw.AttachmentOf(ep);
        dp.InjectFromEndpoint(attachment, []);
        dp.InjectFromEndpoint(attachment, new byte[13]);
        Assert.Equal(2, ep.Counters[DropReason.Malformed]);

        Assert.True(DatapathTopology.Ping(nsA.Name, DatapathTopology.ExtIp, attempts: 3), "forwarding goes on after bad input");
        Assert.True(DatapathTopology.Ping(topo.Ext.Name, "10.77.0.2", attempts: 3));
        Assert.Null(dp.Fault);
    }
}
