// A frame the datapath hands to a device that takes it and then drops it (the device's transmit
// returns NET_XMIT_DROP, which a packet socket reports as ENOBUFS: a full qdisc, a veth whose peer
// has just gone down) is counted once, by that device, not a second time as mvtap's queue_full.
// Here the lower's queue is a pfifo of length 0, which takes and drops every frame and counts it.
using System.Text.Json;
using Mvtap.Core.Model;
using Mvtap.Datapath;
using Mvtap.Datapath.Tests.E2e;
using Mvtap.Linux;
using Mvtap.Linux.Netlink;

namespace Mvtap.Datapath.Tests;

[Collection("datapath")]
public sealed class DeviceDropCountingTests
{
    private static long QdiscDrops(string ns, string dev)
    {
        using var doc = JsonDocument.Parse(TestNet.Run("tc", "-n", ns, "-s", "-j", "qdisc", "show", "dev", dev));
        return doc.RootElement.EnumerateArray().Sum(q => q.TryGetProperty("drops", out var d) ? d.GetInt64() : 0);
    }

    [Fact]
    public void A_frame_the_lowers_queue_takes_and_drops_is_counted_by_the_queue_not_again_as_mvtaps_queue_full()
    {
        using var topo = new DatapathTopology();
        var nsA = topo.NewNamespace();
        // nothing but the test's frames goes to the wire: no IPv6 on the lower or in the endpoint's
        // namespace (else a solicitation counted before the books are opened could be dropped after)
        TestNet.Run("ip", "netns", "exec", topo.Host.Name, "sysctl", "-qw", $"net.ipv6.conf.{DatapathTopology.LowerName}.disable_ipv6=1");
        TestNet.Run("ip", "netns", "exec", nsA.Name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
        using var sw = new DatapathSwitch(topo.Host.Name);
        var dp = sw.OpenLower(DatapathTopology.LowerName);
        var a = sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "a", Mode = EndpointMode.Bridge }, nsA.Name, "eth0");
        TestNet.Run("tc", "-n", topo.Host.Name, "qdisc", "add", "dev", DatapathTopology.LowerName, "root", "pfifo", "limit", "0");

        var port = dp.Port.Counters;
        long Refused() => port[DropReason.QueueFull] + port[DropReason.AttachmentError];
        long sent0 = Volatile.Read(ref port.TxPackets), refused0 = Refused();
        int aIndex;
        using (var rtnl = Rtnetlink.InNamespace(nsA.Name)) aIndex = rtnl.GetLink("eth0")!.Index;
        var outside = TestNet.RandomMac();
        const int N = 200;
        using (var raw = NetNamespace.Run(nsA.Name, () => new PacketSocket(aIndex)))
            for (int i = 0; i < N; i++)
            {
                Assert.True(raw.Send(TestNet.Frame(outside, a.Mac, E2eFrames.TagBase | (uint)i)));
                if (i % 10 == 0) Thread.Sleep(1); // many wake-ups, not one batch
            }
        // how many reach the port does not matter (a loaded machine's rings may drop some on the way in)
        Assert.True(TestNet.WaitFor(() => Volatile.Read(ref port.TxPackets) - sent0, n => n > 0) > 0, "frames reached the port");

        // every frame forwarded to the wire is either dropped by the queue (which took it) or refused by
        // mvtap (which kept it), never both: the books balance exactly
        var (toWire, byQueue, byMvtap) = TestNet.WaitFor(
            () => (Volatile.Read(ref port.TxPackets) - sent0, QdiscDrops(topo.Host.Name, DatapathTopology.LowerName), Refused() - refused0),
            t => t.Item1 == t.Item2 + t.Item3);
        Assert.True(byQueue > 0, "the queue took and dropped frames");
        Assert.Equal(toWire, byQueue + byMvtap);
    }
}
