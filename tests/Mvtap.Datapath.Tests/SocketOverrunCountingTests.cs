// Frames the kernel drops because the datapath thread fell behind (its packet socket's receive
// ring was full) are counted, as drops with reason socket_overrun on the port whose socket lost
// them: with the thread held still, a burst larger than the lower's ring arrives, and once the
// thread runs again every frame the lower received is either read or counted, exactly.
using System.Text.Json;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Datapath;
using Mvtap.Linux;
using Mvtap.Linux.Netlink;

namespace Mvtap.Datapath.Tests;

[Collection("datapath")]
public sealed class SocketOverrunCountingTests
{
    private static long RxPackets(string ns, string dev)
    {
        using var doc = JsonDocument.Parse(TestNet.Run("ip", "-n", ns, "-s", "-j", "link", "show", dev));
        return doc.RootElement[0].GetProperty("stats64").GetProperty("rx").GetProperty("packets").GetInt64();
    }

    [Fact]
    public void Frames_the_kernel_drops_while_the_datapath_thread_is_behind_are_counted_as_socket_overrun_and_the_books_balance()
    {
        using var topo = new DatapathTopology();
        // nothing but the test's frames reaches the lower: no IPv6 on either end
        TestNet.Run("ip", "netns", "exec", topo.Host.Name, "sysctl", "-qw", $"net.ipv6.conf.{DatapathTopology.LowerName}.disable_ipv6=1");
        TestNet.Run("ip", "netns", "exec", topo.Ext.Name, "sysctl", "-qw", $"net.ipv6.conf.{DatapathTopology.ExtName}.disable_ipv6=1");
        using var sw = new DatapathSwitch(topo.Host.Name, log: _ => { });
        var dp = sw.OpenLower(DatapathTopology.LowerName);
        var port = dp.Port.Counters;

        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        dp.WakeupHook = () => { entered.Set(); release.Wait(); };
        try
        {
            dp.CheckHeartbeat(); // wakes the thread into the hook
            Assert.True(entered.Wait(TimeSpan.FromSeconds(20)), "the datapath thread is held");
            long received0 = RxPackets(topo.Host.Name, DatapathTopology.LowerName);
            long read0 = dp.Stats.FramesFromLower, overrun0 = port[DropReason.SocketOverrun];

            // far more frames than the lower's ring has slots, while nobody reads it
            int extIndex;
            using (var rtnl = Rtnetlink.InNamespace(topo.Ext.Name)) extIndex = rtnl.GetLink(DatapathTopology.ExtName)!.Index;
            var src = TestNet.RandomMac();
            int slots = PacketFrameRingGeometry.Default.FrameCount, n = 4 * slots;
            using (var raw = NetNamespace.Run(topo.Ext.Name, () => new PacketSocket(extIndex)))
                for (int i = 0; i < n; i++) raw.Send(TestNet.Frame(MacAddress.Broadcast, src, (uint)i));
            long received = RxPackets(topo.Host.Name, DatapathTopology.LowerName) - received0;
            Assert.True(received > slots, $"the lower received more than its ring holds ({received} frames)");

            dp.WakeupHook = null;
            release.Set();
            var (read, overrun) = TestNet.WaitFor(
                () => (dp.Stats.FramesFromLower - read0, port[DropReason.SocketOverrun] - overrun0),
                t => t.Item1 + t.Item2 >= received);
            Assert.True(overrun > 0, $"frames were lost while the thread was held: read {read} of {received}");
            Assert.Equal(received, read + overrun);
        }
        finally
        {
            dp.WakeupHook = null;
            release.Set();
        }
    }
}
