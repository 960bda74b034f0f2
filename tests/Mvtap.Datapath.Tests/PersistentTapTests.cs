// A `tap` macvtap endpoint with real traffic: mvtapd's switch makes a persistent TAP in a pod's
// namespace and lets go of it; the test opens the TAP's queue by name, as QEMU does with
// `-netdev tap,ifname=…`, and exchanges frames with the external host through it. The pod's owner
// deleting, renaming or setting down the TAP, and a guest writing garbage on its queue, do not stop
// the datapath; the endpoint's removal deletes the TAP, a switch that keeps its interfaces leaves it
// to be adopted again.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Datapath.Tests.E2e;
using Mvtap.Linux;
using Mvtap.Linux.Netlink;

namespace Mvtap.Datapath.Tests;

[Collection("datapath")]
public sealed class PersistentTapTests
{
    private const string TapName = "tap0";

    [Fact]
    public void Frames_the_guest_writes_on_the_taps_queue_reach_the_wire_and_frames_for_its_mac_reach_the_queue()
    {
        using var lab = new Lab();
        var ep = lab.Add();
        string details = lab.Pod.Ip("-d", "link", "show", TapName);
        Assert.Contains($"tun type tap pi off vnet_hdr on persist on user 107 group {Group107} ", details);
        Assert.Contains($"link/ether {ep.Mac}", details);
        // mvtapd holds no queue of it: no carrier until the guest opens it
        Assert.Contains("NO-CARRIER", details);

        using var guest = TapQueue.Open(lab.Pod.Name, TapName);
        Assert.DoesNotContain("NO-CARRIER", lab.Pod.Ip("link", "show", TapName));
        lab.AssertBothWays(guest, ep, 1);
        Assert.Null(lab.Datapath.Fault);
    }

    [Fact]
    public void The_tap_deleted_by_the_pods_owner_is_made_again_and_carries_the_next_guest()
    {
        using var lab = new Lab();
        var ep = lab.Add();
        var attachment = lab.Switch.TapAttachmentOf(ep)!;
        int before = attachment.Tap.IfIndex;
        lab.Pod.Ip("link", "del", TapName);
        Assert.Equal(1, TestNet.WaitFor(() => attachment.Remade, n => n >= 1));
        Assert.NotEqual(before, attachment.Tap.IfIndex);
        Assert.Contains($"persist on user 107 group {Group107} ", lab.Pod.Ip("-d", "link", "show", TapName));
        using var guest = TapQueue.Open(lab.Pod.Name, TapName);
        lab.AssertBothWays(guest, ep, 10);
        Assert.Equal(DatapathState.Running, lab.Datapath.State);
    }

    [Fact]
    public void A_tap_renamed_or_set_down_and_up_by_the_pods_owner_keeps_carrying_its_guest()
    {
        using var lab = new Lab();
        var ep = lab.Add();
        using var guest = TapQueue.Open(lab.Pod.Name, TapName);
        lab.Pod.Ip("link", "set", TapName, "name", "renamed0");
        lab.AssertBothWays(guest, ep, 20);
        lab.Pod.Ip("link", "set", "renamed0", "down");
        lab.Pod.Ip("link", "set", "renamed0", "up");
        lab.AssertBothWays(guest, ep, 30);
        Assert.Equal(0, lab.Switch.TapAttachmentOf(ep)!.Remade);
    }

    [Fact]
    public void Garbage_from_the_guest_is_dropped_and_counted_and_its_next_frame_still_passes()
    {
        using var lab = new Lab();
        var ep = lab.Add();
        using var guest = TapQueue.Open(lab.Pod.Name, TapName);
        var rng = new Random(1306);
        var buffer = new byte[4000];
        for (int i = 0; i < 3000; i++)
        {
            int length = rng.Next(0, buffer.Length);
            rng.NextBytes(buffer.AsSpan(0, length));
            try { guest.Queue.Write(buffer.AsSpan(0, length)); }
            catch (Linux.Interop.SystemCallException) { /* the TAP refused it: never reached us */ }
        }
        lab.AssertBothWays(guest, ep, 40);
        Assert.Equal(DatapathState.Running, lab.Datapath.State);
        Assert.Equal(0, lab.Datapath.Restarts);
    }

    [Fact]
    public void Removing_the_endpoint_deletes_its_tap_and_a_switch_keeping_its_interfaces_leaves_it_to_be_adopted()
    {
        using var lab = new Lab();
        var ep = lab.Add();
        lab.Switch.RemoveEndpoint(ep);
        Assert.DoesNotContain(TapName, lab.Pod.Ip("-br", "link"));

        int index;
        using (var keeping = new DatapathSwitch(lab.Topology.Host.Name, keepInterfaces: true))
        {
            var dp = keeping.OpenLower(DatapathTopology.LowerName);
            var kept = keeping.AddEndpoint(dp, lab.Spec("k"));
            index = keeping.TapAttachmentOf(kept)!.Tap.IfIndex;
        }
        Assert.Contains(TapName, lab.Pod.Ip("-br", "link"));
        // a new endpoint does not take it over; a restored one (adopt) does, with the same index
        Assert.Throws<MvtapException>(() => lab.Switch.AddEndpoint(lab.Datapath, lab.Spec("n")));
        var adopted = lab.Switch.AddEndpoint(lab.Datapath, lab.Spec("a") with { Adopt = true });
        Assert.Equal(index, lab.Switch.TapAttachmentOf(adopted)!.Tap.IfIndex);
        lab.Datapath.Port.SetUp(adopted, true);
        using var guest = TapQueue.Open(lab.Pod.Name, TapName);
        lab.AssertBothWays(guest, adopted, 50);
    }

    private sealed class Lab : IDisposable
    {
        public Lab()
        {
            Topology = new DatapathTopology();
            try
            {
                Pod = Topology.NewNamespace();
                Switch = new DatapathSwitch(Topology.Host.Name, log: _ => { });
                Datapath = Switch.OpenLower(DatapathTopology.LowerName);
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        public DatapathTopology Topology { get; }
        public TestNamespace Pod { get; } = null!;
        public DatapathSwitch Switch { get; } = null!;
        public LowerDatapath Datapath { get; } = null!;

        public TapSpec Spec(string name) =>
            new(new EndpointSettings { Name = name, Mode = EndpointMode.Bridge }, Pod.Name, TapName, 107, 107);

        public Endpoint Add()
        {
            var ep = Switch.AddEndpoint(Datapath, Spec("t"));
            Datapath.Port.SetUp(ep, true);
            return ep;
        }

        /// <summary>A frame from the guest reaches the external host, and one from the external host to the
        /// endpoint's MAC reaches the guest's queue.</summary>
        public void AssertBothWays(TapQueue guest, Endpoint ep, int tag)
        {
            int extIndex = IfIndex(Topology.Ext.Name, DatapathTopology.ExtName);
            var extMac = TestNet.RandomMac();
            using (var atExt = new FrameObserver(Topology.Ext.Name, extIndex))
            {
                uint up = E2eFrames.TagBase | (uint)tag;
                bool seen = TestNet.WaitFor(() =>
                {
                    guest.Send(TestNet.Frame(MacAddress.Broadcast, ep.Mac, up));
                    atExt.Drain();
                    return atExt.Frames.Exists(f => FrameObserver.TagOf(f) == up);
                }, s => s, seconds: 30);
                Assert.True(seen, "the guest's frame did not reach the external host");
            }
            uint down = E2eFrames.TagBase | (uint)(tag + 1);
            using var raw = NetNamespace.Run(Topology.Ext.Name, () => new PacketSocket(extIndex));
            bool got = TestNet.WaitFor(() =>
            {
                raw.Send(TestNet.Frame(ep.Mac, extMac, down));
                return guest.ReceivedTag(down, TimeSpan.FromMilliseconds(500));
            }, g => g, seconds: 30);
            Assert.True(got, "the external host's frame did not reach the guest's queue");
        }

        public void Dispose()
        {
            Switch?.Dispose();
            Topology.Dispose();
        }
    }

    // ip prints a group by its name when it has one (Debian's 107 is kvm)
    private static string Group107 =>
        File.ReadLines("/etc/group").Select(l => l.Split(':')).FirstOrDefault(f => f.Length > 2 && f[2] == "107")?[0] ?? "107";

    private static int IfIndex(string ns, string name)
    {
        using var rtnl = Rtnetlink.InNamespace(ns);
        return rtnl.GetLink(name)!.Index;
    }
}

/// <summary>What QEMU does with `-netdev tap,ifname=NAME,script=no,downscript=no`: a queue of the existing
/// TAP opened by name with a virtio-net header.</summary>
internal sealed class TapQueue : IDisposable
{
    private const int VnetSize = 10;
    private readonly byte[] _buffer = new byte[70000];

    private TapQueue(TapDevice queue) => Queue = queue;

    public TapDevice Queue { get; }

    public static TapQueue Open(string netns, string name) => new(NetNamespace.Run(netns, () => TapDevice.Create(name, vnetHeader: true)));

    public void Send(byte[] frame)
    {
        var withHeader = new byte[VnetSize + frame.Length];
        frame.CopyTo(withHeader, VnetSize);
        Queue.Write(withHeader);
    }

    /// <summary>Reads what waits (bounded) until a test frame with <paramref name="tag"/> comes.</summary>
    public bool ReceivedTag(uint tag, TimeSpan wait)
    {
        var deadline = DateTime.UtcNow + wait;
        while (DateTime.UtcNow < deadline)
        {
            if (!Queue.WaitReadable(100)) continue;
            int n = Queue.Read(_buffer);
            if (n > VnetSize && FrameObserver.TagOf(_buffer.AsSpan(VnetSize, n - VnetSize)) == tag) return true;
        }
        return false;
    }

    public void Dispose() => Queue.Dispose();
}
