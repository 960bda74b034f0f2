// A multicast datagram larger than the MTU (issue 11, point 3): the external host sends a
// 3000-byte UDP datagram to a group at MTU 1500, so it crosses the wire as fragments. The
// kernel's macvlan reassembles it (spec 3.8) and hands the whole datagram to its endpoint's
// stack; mvtap reassembles it too and, as a veth cannot carry more than its MTU, delivers it to
// a macvlan endpoint as fragments that fit, which the container's stack reassembles. The
// kernel's macvlan runs on the same lower alongside, as the oracle: a socket in each container,
// joined to the group, must receive the datagram byte for byte.
// A macvtap endpoint's reader gets the whole reassembled frame from the kernel (one 3042-byte
// read at MTU 1500, observed): mvtap's stream and tap-relay attachments hand it over whole too.
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Datapath;
using Mvtap.Datapath.Tests;
using Mvtap.Linux;

namespace Mvtap.Datapath.Tests.E2e;

[Collection("e2e-reassembly")]
public sealed class E2eReassembledMulticastTests
{
    private static readonly IPAddress Group = IPAddress.Parse("239.1.2.3");
    private static readonly MacAddress GroupMac = MacAddress.Parse("01:00:5e:01:02:03");
    private const int Port = 5353 + 7;

    private static Socket Joined(string ns, string localIp) => NetNamespace.Run(ns, () =>
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        s.Bind(new IPEndPoint(IPAddress.Any, Port));
        s.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.AddMembership, new MulticastOption(Group, IPAddress.Parse(localIp)));
        s.ReceiveTimeout = 5000;
        return s;
    });

    private static byte[]? ReceiveOne(Socket s)
    {
        var buf = new byte[70_000];
        try { return buf[..s.Receive(buf)]; }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut) { return null; }
    }

    [Theory]
    [InlineData(3000)]
    [InlineData(65507)]
    public void A_fragmented_multicast_datagram_larger_than_the_mtu_reaches_a_container_on_a_macvlan_endpoint_as_on_the_kernels(int size)
    {
        using var topo = new DatapathTopology();
        var nsKernel = topo.NewNamespace();
        var nsMvtap = topo.NewNamespace();
        using var sw = new DatapathSwitch(topo.Host.Name);
        var dp = sw.OpenLower(DatapathTopology.LowerName);
        var ep = sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "m", Mode = EndpointMode.Bridge }, nsMvtap.Name, "eth0");
        DatapathTopology.Address(nsMvtap, "eth0", 3);
        topo.AddKernelMacvlan("k", "bridge", nsKernel, 2);
        topo.Ext.Ip("route", "add", "224.0.0.0/4", "dev", DatapathTopology.ExtName);

        using var kernel = Joined(nsKernel.Name, "10.77.0.2");
        using var mvtap = Joined(nsMvtap.Name, "10.77.0.3");
        // the join inside the container reaches the endpoint's filter through mvtap's follower
        Assert.True(TestNet.WaitFor(() => ep.Port.Table.Find(ep)?.AcceptsGroup(GroupMac) ?? false, ok => ok), "mvtap did not see the container join the group");

        var payload = new byte[size];
        new Random(size).NextBytes(payload);
        using var sender = NetNamespace.Run(topo.Ext.Name, () => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp));
        sender.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastTimeToLive, 1);
        sender.SendTo(payload, new IPEndPoint(Group, Port));

        Assert.Equal(payload, ReceiveOne(kernel));
        Assert.Equal(payload, ReceiveOne(mvtap));
        Assert.Equal(0, ep.Counters[DropReason.AttachmentError]);
        Assert.Equal(0, dp.Port.Counters.TotalDrops);
        Assert.Null(dp.Fault);
    }

    private static void SendFromExternal(DatapathTopology topo, byte[] payload)
    {
        topo.Ext.Ip("route", "replace", "224.0.0.0/4", "dev", DatapathTopology.ExtName);
        using var sender = NetNamespace.Run(topo.Ext.Name, () => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp));
        sender.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastTimeToLive, 1);
        sender.SendTo(payload, new IPEndPoint(Group, Port));
    }

    /// <summary>The UDP payload of a whole (unfragmented) IPv4 frame to the group, or null.</summary>
    private static byte[]? GroupDatagram(ReadOnlySpan<byte> f)
    {
        if (f.Length < 42 || f[12] != 0x08 || f[13] != 0x00 || f[23] != 17 || BinaryPrimitives.ReadUInt32BigEndian(f[30..]) != 0xEF010203) return null;
        if ((BinaryPrimitives.ReadUInt16BigEndian(f[20..]) & 0x3FFF) != 0) return [];
        int ihl = (f[14] & 15) * 4;
        return f[(14 + ihl + 8)..].ToArray();
    }

    /// <summary>A macvtap endpoint (no attachment yet), up, receiving all multicast.</summary>
    private static (LowerDatapath, Endpoint) MacvtapEndpoint(DatapathSwitch sw)
    {
        var dp = sw.OpenLower(DatapathTopology.LowerName);
        var ep = dp.Port.Create(new EndpointSettings { Name = "g0", Mode = EndpointMode.Bridge });
        dp.Port.SetUp(ep, true);
        dp.Port.Change(ep, new EndpointChange { AllMulti = true });
        return (dp, ep);
    }

    [Fact]
    public void A_stream_guest_reads_the_reassembled_datagram_as_one_frame_as_a_macvtap_reader_does()
    {
        using var topo = new DatapathTopology();
        using var sw = new DatapathSwitch(topo.Host.Name);
        var (dp, ep) = MacvtapEndpoint(sw);
        var dir = Directory.CreateTempSubdirectory("mvtap-reasm-").FullName;
        var stream = StreamAttachment.Listen(ep, Path.Combine(dir, "tap0.stream"), -1, -1, new GuestClaim(), 1);
        try
        {
            dp.Attach(stream);
            using var peer = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 5000 };
            peer.Connect(new UnixDomainSocketEndPoint(stream.SocketPath));
            Assert.True(SpinWait.SpinUntil(() => stream.IsConnected, 5000), "the datapath accepted the stream client");
            var payload = new byte[3000];
            new Random(3).NextBytes(payload);
            SendFromExternal(topo, payload);
            using var reader = new NetworkStream(peer, ownsSocket: false);
            byte[]? got = null;
            while (got is null)
            {
                var length = new byte[4];
                reader.ReadExactly(length);
                var f = new byte[BinaryPrimitives.ReadUInt32BigEndian(length)];
                reader.ReadExactly(f);
                got = GroupDatagram(f); // the external end's own IPv6 ND/MLD are skipped
            }
            Assert.Equal(payload, got);
            Assert.Equal(0, ep.Counters[DropReason.AttachmentError] + ep.Counters[DropReason.Mtu]);
        }
        finally
        {
            dp.Detach(stream);
            stream.Dispose();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_tap_relay_guest_reads_the_reassembled_datagram_as_one_frame_as_a_macvtap_reader_does()
    {
        using var topo = new DatapathTopology();
        using var sw = new DatapathSwitch(topo.Host.Name);
        var (dp, ep) = MacvtapEndpoint(sw);
        var slot = new GuestClaim();
        Assert.True(slot.TryClaim(1));
        var relay = new TapRelayAttachment(ep, slot, 1);
        using var tap = relay.CreateTap(topo.Host.Name);
        try
        {
            dp.Attach(relay);
            Assert.True(SpinWait.SpinUntil(() => relay.IsRelaying, 5000));
            var payload = new byte[3000];
            new Random(4).NextBytes(payload);
            SendFromExternal(topo, payload);
            var buf = new byte[70_000];
            byte[]? got = null;
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (got is null && DateTime.UtcNow < deadline)
            {
                if (!tap.WaitReadable(500)) continue;
                int n = tap.Read(buf);
                got = GroupDatagram(buf.AsSpan(VirtioNetHeader.Size, n - VirtioNetHeader.Size));
            }
            Assert.Equal(payload, got);
            Assert.Equal(0, ep.Counters[DropReason.AttachmentError] + ep.Counters[DropReason.Mtu]);
        }
        finally
        {
            dp.Detach(relay);
            relay.Dispose();
        }
    }
}
