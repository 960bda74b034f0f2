// A TCP transfer through mvtap's datapath between an endpoint and the external host, both ways.
// The namespaces' TCP stacks use TSO over veth, so this also carries GSO super-frames (vnet
// header end to end) through the datapath. The bytes must arrive intact: compared by SHA-256.
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Mvtap.Core.Model;
using Mvtap.Datapath;
using Mvtap.Linux;
using Mvtap.Linux.Netlink;

namespace Mvtap.Datapath.Tests;

[Collection("datapath")]
public sealed class TransferTests
{
    private const int Size = 4 << 20;

    private static byte[] Transfer(string serverNs, string serverIp, string clientNs, byte[] payload) =>
        TcpTransfer.SendAndHash(serverNs, serverIp, clientNs, 5001, payload, TimeSpan.FromSeconds(60));

    // Every slot of the core's broadcast ring gets its buffer on first use: cycle through all of
    // them (16 in the core today; 40 frames to be safe) with broadcasts from the external host.
    private static void WarmBroadcastQueue(DatapathTopology topo, LowerDatapath dp)
    {
        int ext;
        using (var rtnl = Rtnetlink.InNamespace(topo.Ext.Name)) ext = rtnl.GetLink(DatapathTopology.ExtName)!.Index;
        long before = dp.Stats.FramesFromLower;
        using (var raw = NetNamespace.Run(topo.Ext.Name, () => new PacketSocket(ext)))
            for (uint i = 0; i < 40; i++)
                Assert.True(raw.Send(TestNet.Frame(Core.Frames.MacAddress.Broadcast, TestNet.RandomMac(), i)));
        Assert.True(TestNet.WaitFor(() => dp.Stats.FramesFromLower - before, n => n >= 40) >= 40);
    }

    [Theory]
    [InlineData("vepa")]
    [InlineData("bridge")]
    public void TcpTransferArrivesIntactBothWays(string mode)
    {
        using var topo = new DatapathTopology();
        var nsA = topo.NewNamespace();
        using var sw = new DatapathSwitch(topo.Host.Name);
        var dp = sw.OpenLower(DatapathTopology.LowerName);
        var ep = sw.AddMacvlanEndpoint(dp, new EndpointSettings
        {
            Name = "a",
            Mode = mode == "bridge" ? EndpointMode.Bridge : EndpointMode.Vepa,
        }, nsA.Name, "eth0");
        DatapathTopology.Address(nsA, "eth0", 2);
        Assert.True(DatapathTopology.Ping(nsA.Name, DatapathTopology.ExtIp, attempts: 3));

        var payload = new byte[Size];
        new Random(42).NextBytes(payload);
        var expected = SHA256.HashData(payload);

        Assert.Equal(expected, Transfer(topo.Ext.Name, DatapathTopology.ExtIp, nsA.Name, payload)); // endpoint -> external
        // Warmed up now: a long transfer (32 MB, over 500 frames: 64 KB GSO super-frames and ACKs)
        // must not make the datapath thread allocate per frame. The allowance is for one-time
        // growth that may fall in the window (the core's broadcast queue gives a slot its 2 KB
        // buffer the first time the slot is used, e.g. by an IPv6 multicast); 24 bytes per frame,
        // the smallest object, would already be 12 KB.
        WarmBroadcastQueue(topo, dp);
        var big = new byte[32 << 20];
        new Random(7).NextBytes(big);
        long framesBefore = dp.Stats.FramesFromLower + dp.Stats.FramesFromEndpoints;
        long allocatedBefore = dp.Stats.AllocatedBytes;
        Assert.Equal(SHA256.HashData(big), Transfer(nsA.Name, "10.77.0.2", topo.Ext.Name, big)); // external -> endpoint
        long frames = dp.Stats.FramesFromLower + dp.Stats.FramesFromEndpoints - framesBefore;
        long allocated = dp.Stats.AllocatedBytes - allocatedBefore;
        Assert.True(frames > 500, $"{frames} frames");
        Assert.True(allocated < 8192, $"{allocated} bytes allocated on the datapath thread for {frames} frames");
        Assert.Equal(expected, Transfer(nsA.Name, "10.77.0.2", topo.Ext.Name, payload));            // and the 4 MB one too
        Assert.Null(dp.Fault);
        Assert.True(ep.Counters.TxBytes >= Size && ep.Counters.RxBytes >= Size);
        // veth does TSO by default: super-frames crossed the datapath whole, with their vnet header
        Assert.True(dp.Stats.GsoFrames > 0);
        Assert.Equal(0, dp.Stats.Truncated);
    }
}
