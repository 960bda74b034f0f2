// Nothing a frame does ends a datapath thread. A frame whose handling throws (here: an endpoint's
// attachment that throws on frames carrying a marker, standing in for any bug a frame can reach)
// is dropped and counted as internal_error where it came from, logged once with its first bytes,
// and the rest of its batch is forwarded. A thread that ends anyway (made to fail through the test
// seam) is restarted after a back-off and forwarding resumes; a hung one stops answering heartbeats,
// while one waiting out its back-off is not taken for hung.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Datapath;
using Mvtap.Datapath.Tests.E2e;
using Mvtap.Linux;
using Mvtap.Linux.Netlink;

namespace Mvtap.Datapath.Tests;

[Collection("datapath")]
public sealed class ContainmentTests
{
    private static readonly byte[] Marker = "MVTAP-POISON"u8.ToArray();

    private static byte[] TestFrame(MacAddress dst, MacAddress src, int i, bool poisoned)
    {
        var f = TestNet.Frame(dst, src, E2eFrames.TagBase | (uint)i);
        if (poisoned) Marker.CopyTo(f, 20);
        return f;
    }

    private static int IfIndex(string ns, string name)
    {
        using var rtnl = Rtnetlink.InNamespace(ns);
        return rtnl.GetLink(name)!.Index;
    }

    [Fact]
    public void A_frame_whose_handling_throws_is_dropped_counted_where_it_came_from_logged_once_and_its_batch_goes_on()
    {
        using var topo = new DatapathTopology();
        var nsA = topo.NewNamespace();
        var nsB = topo.NewNamespace();
        var log = new List<string>();
        using var sw = new DatapathSwitch(topo.Host.Name, log: line => { lock (log) log.Add(line); });
        var dp = sw.OpenLower(DatapathTopology.LowerName);
        var a = sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "a", Mode = EndpointMode.Bridge }, nsA.Name, "eth0");
        var b = sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "b", Mode = EndpointMode.Bridge }, nsB.Name, "eth0");
        DatapathTopology.Address(nsA, "eth0", 2);
        DatapathTopology.Address(nsB, "eth0", 3);
        var real = sw.AttachmentOf(b);
        dp.Detach(real);
        dp.Attach(new PoisonedAttachment(real));
        Assert.True(DatapathTopology.Ping(nsB.Name, DatapathTopology.ExtIp, attempts: 3), "b reaches the wire through the wrapped attachment");

        using var atB = new FrameObserver(nsB.Name, IfIndex(nsB.Name, "eth0"));
        // From the wire, one burst: every other frame marked.
        int extIndex = IfIndex(topo.Ext.Name, DatapathTopology.ExtName);
        var extMac = TestNet.RandomMac();
        using (var raw = NetNamespace.Run(topo.Ext.Name, () => new PacketSocket(extIndex)))
            for (int i = 0; i < 40; i++) Assert.True(raw.Send(TestFrame(b.Mac, extMac, i, poisoned: i % 2 == 0)));
        Assert.Equal(20, TestNet.WaitFor(() => dp.Port.Counters[DropReason.InternalError], n => n >= 20));
        Assert.Equal(20, TestNet.WaitFor(() => { atB.Drain(); return atB.Frames.Count; }, n => n >= 20));
        Assert.All(atB.Frames, f => Assert.Equal(1u, FrameObserver.TagOf(f)!.Value % 2)); // the unmarked ones, each once

        // From an endpoint: a's frames to b (bridge mode: delivered locally) are counted on a.
        int aIndex = IfIndex(nsA.Name, "eth0");
        using (var raw = NetNamespace.Run(nsA.Name, () => new PacketSocket(aIndex)))
            for (int i = 100; i < 110; i++) Assert.True(raw.Send(TestFrame(b.Mac, a.Mac, i, poisoned: true)));
        Assert.Equal(10, TestNet.WaitFor(() => a.Counters[DropReason.InternalError], n => n >= 10));
        Assert.Equal(20, dp.Port.Counters[DropReason.InternalError]);

        // Logged once (the same fault again within a minute is only counted), with the frame's first bytes.
        string bHex = Convert.ToHexString(b.Mac.ToBytes()).ToLowerInvariant();
        var errors = TestNet.WaitFor(() => { lock (log) return log.Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ToList(); }, e => e.Count >= 1);
        Assert.Single(errors);
        Assert.Contains("internal_error", errors[0]);
        Assert.Contains(bHex, errors[0]);
        Assert.Contains("poisoned frame (test)", errors[0]);

        // The thread never ended, and forwarding goes on.
        Assert.Equal(DatapathState.Running, dp.State);
        Assert.Equal(0, dp.Restarts);
        Assert.Null(dp.Fault);
        Assert.True(DatapathTopology.Ping(nsB.Name, DatapathTopology.ExtIp, attempts: 3));
        Assert.True(DatapathTopology.Ping(nsA.Name, "10.77.0.3", attempts: 3));
    }

    [Fact]
    public void A_datapath_thread_that_fails_is_logged_restarted_after_its_back_off_and_forwards_again()
    {
        using var topo = new DatapathTopology();
        var nsA = topo.NewNamespace();
        var log = new List<string>();
        using var sw = new DatapathSwitch(topo.Host.Name, log: line => { lock (log) log.Add(line); });
        var dp = sw.OpenLower(DatapathTopology.LowerName);
        sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "a" }, nsA.Name, "eth0");
        DatapathTopology.Address(nsA, "eth0", 2);
        Assert.True(DatapathTopology.Ping(nsA.Name, DatapathTopology.ExtIp, attempts: 3));

        int armed = 1;
        dp.WakeupHook = () => { if (Interlocked.Exchange(ref armed, 0) == 1) throw new InvalidOperationException("injected failure (test)"); };
        dp.CheckHeartbeat(); // wakes the thread, which fails
        Assert.Equal(1, TestNet.WaitFor(() => dp.Restarts, n => n >= 1));
        Assert.Equal(DatapathState.Running, dp.State);
        Assert.Equal("injected failure (test)", dp.Fault!.Message);
        Assert.True(DatapathTopology.Ping(nsA.Name, DatapathTopology.ExtIp, attempts: 3), "forwarding resumes after the restart");
        Assert.True(DatapathTopology.Ping(topo.Ext.Name, "10.77.0.2", attempts: 3));
        lock (log)
        {
            Assert.Contains(log, l => l.StartsWith("error:", StringComparison.Ordinal) && l.Contains("datapath thread failed (injected failure (test))"));
            Assert.Contains(log, l => l.Contains("datapath thread was restarted (restart 1)"));
        }
    }

    [Fact]
    public void A_hung_thread_fails_its_heartbeat_and_a_thread_waiting_out_its_back_off_does_not()
    {
        using var topo = new DatapathTopology();
        using var sw = new DatapathSwitch(topo.Host.Name, log: _ => { });
        var dp = sw.OpenLower(DatapathTopology.LowerName);
        Assert.True(dp.CheckHeartbeat());
        Assert.True(TestNet.WaitFor(dp.CheckHeartbeat, ok => ok), "an idle thread answers");

        using var release = new ManualResetEventSlim();
        dp.WakeupHook = () => release.Wait();
        dp.CheckHeartbeat(); // asks, and wakes the thread into the hang
        Assert.False(TestNet.WaitFor(dp.CheckHeartbeat, ok => !ok), "a hung thread does not answer");
        dp.WakeupHook = null;
        release.Set();
        Assert.True(TestNet.WaitFor(dp.CheckHeartbeat, ok => ok), "it answers once it runs again");

        // Failing on every wake-up: the heartbeat that woke it is answered as it ends, and while it
        // waits out its back-off none is due. (Looked at between two restarts; the back-off grows.)
        dp.WakeupHook = () => throw new InvalidOperationException("injected failure (test)");
        for (int attempt = 0; ; attempt++)
        {
            dp.CheckHeartbeat();
            Assert.Equal(DatapathState.Restarting, TestNet.WaitFor(() => dp.State, s => s == DatapathState.Restarting));
            int restarts = dp.Restarts;
            bool first = dp.CheckHeartbeat(), second = dp.CheckHeartbeat();
            if (dp.Restarts != restarts && attempt < 3) continue; // restarted in between: look again
            Assert.True(first && second, "a thread waiting out its back-off is not hung");
            break;
        }
        dp.WakeupHook = null;
    }

    /// <summary>An endpoint's attachment that throws on delivering a frame carrying the marker.</summary>
    private sealed class PoisonedAttachment(IEndpointAttachment inner) : IEndpointAttachment
    {
        public Endpoint Endpoint => inner.Endpoint;
        public int GetPollFds(Span<int> fds) => inner.GetPollFds(fds);
        public void SetDatapath(LowerDatapath? datapath) => inner.SetDatapath(datapath);
        public int ReceiveBatch(int source, SocketFrameBatch scratch) => inner.ReceiveBatch(source, scratch);
        public ReceivedFrame GetFrame(int i, SocketFrameBatch scratch, out ReadOnlySpan<byte> frame, out VirtioNetHeader vnet) =>
            inner.GetFrame(i, scratch, out frame, out vnet);
        public void EndReceive() => inner.EndReceive();
        public bool ReceivePending => inner.ReceivePending;
        public int PendingSource => inner.PendingSource;
        public void Flush() => inner.Flush();

        public void Deliver(in VnetFrame packet)
        {
            if (packet.Frame.IndexOf(Marker) >= 0) throw new InvalidOperationException("poisoned frame (test)");
            inner.Deliver(packet);
        }
    }
}
