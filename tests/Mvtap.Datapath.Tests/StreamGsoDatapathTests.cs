// End to end through the datapath: the external host sends a 64 KB TCP GSO frame (PACKET_VNET_HDR
// on its veth end; veth keeps it whole, so mvtap's lower reads it as one GSO frame) to a macvtap
// endpoint whose guest is attached over `-netdev stream`. The stream peer must read the
// segments as separate wire frames, equal to GsoSegmenter's output for the frame that was sent.
using System.Buffers.Binary;
using System.Net.Sockets;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Datapath;
using Mvtap.Linux;
using Mvtap.Linux.Netlink;
using Mvtap.Tests.Gso;

namespace Mvtap.Datapath.Tests;

public sealed class StreamGsoDatapathTests
{
    [Fact]
    public void GsoFrameFromTheLower_ReachesTheStreamPeerSegmented()
    {
        using var topo = new DatapathTopology();
        using var sw = new DatapathSwitch(topo.Host.Name);
        var dp = sw.OpenLower(DatapathTopology.LowerName);
        var ep = dp.Port.Create(new EndpointSettings { Name = "g0", Mode = EndpointMode.Bridge });
        dp.Port.SetUp(ep, true);
        var dir = Directory.CreateTempSubdirectory("mvtap-stream-gso-").FullName;
        var stream = StreamAttachment.Listen(ep, Path.Combine(dir, "tap0.stream"), -1, -1, new GuestClaim(), 1);
        try
        {
            dp.Attach(stream);
            using var peer = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 5000 };
            peer.Connect(new UnixDomainSocketEndPoint(stream.SocketPath));
            Assert.True(SpinWait.SpinUntil(() => stream.IsConnected, 5000), "the datapath accepted the stream client");

            LinkInfo extInfo;
            using (var rt = Rtnetlink.InNamespace(topo.Ext.Name)) extInfo = rt.GetLink(DatapathTopology.ExtName)!;
            var spec = new GsoFrameSpec(Payload: 65000 - 52, Mss: 1448, TcpOptions: 12,
                Dst: ToBytes(ep.Mac), Src: ToBytes(extInfo.Address!.Value));
            var (frame, vnet) = GsoFrames.Build(spec);
            var sink = new CollectingSink();
            Assert.Equal(GsoVerdict.Segmented, GsoSegmenter.Segment(frame, vnet, false, ref sink, out int total, out _));

            using var tx = NetNamespace.Run(topo.Ext.Name, () => new PacketSocket(extInfo.Index, new PacketSocketOptions { VnetHeader = true, Protocol = 0 }));
            var header = new byte[VirtioNetHeader.Size];
            vnet.Write(header);
            Assert.True(tx.Send([.. header, .. frame]));

            using var reader = new NetworkStream(peer, ownsSocket: false);
            var got = new List<byte[]>();
            while (got.Count < total)
            {
                var length = new byte[4];
                reader.ReadExactly(length);
                var f = new byte[BinaryPrimitives.ReadUInt32BigEndian(length)];
                reader.ReadExactly(f);
                // the external end also sends its own multicast (IPv6 ND/MLD): keep only ours
                if (f.Length > 34 && f[12] == 0x08 && f[13] == 0x00 && f[23] == 6) got.Add(f);
            }
            for (int i = 0; i < total; i++) Assert.Equal(sink.Segments[i].Frame, got[i]);
            Assert.Equal(total, stream.GsoSegments);
        }
        finally
        {
            dp.Detach(stream);
            stream.Dispose();
            Directory.Delete(dir, recursive: true);
        }
    }

    private static byte[] ToBytes(MacAddress mac)
    {
        var b = new byte[6];
        mac.Write(b);
        return b;
    }
}
