// A multicast datagram larger than the MTU (issue 11, point 3): the external host sends a
// 3000-byte UDP datagram to a group at MTU 1500, so it crosses the wire as fragments. The
// kernel's macvlan reassembles it (spec 3.8) and hands the whole datagram to its endpoint's
// stack; mvtap reassembles it too and, as a veth cannot carry more than its MTU, delivers it to
// a macvlan endpoint as fragments that fit, which the container's stack reassembles. The
// kernel's macvlan runs on the same lower alongside, as the oracle: a socket in each container,
// joined to the group, must receive the datagram byte for byte.
using System.Net;
using System.Net.Sockets;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Linux.Datapath;
using Mvtap.Linux.Tests.Datapath;

namespace Mvtap.Linux.Tests.E2e;

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
        using var sw = new LinuxSwitch(topo.Host.Name);
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
}
