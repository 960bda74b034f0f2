// Data integrity through mvtap's datapath (issue 3): 64 MB of TCP from an endpoint to the external
// host at MTU 1500 and at 9000 (lower, external peer and endpoint all set to it), compared by
// SHA-256. A don't-fragment ping of exactly the MTU proves first that full-size frames cross the
// datapath unsegmented at that MTU (TCP itself mostly moves GSO super-frames, which carry no MTU).
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Mvtap.Core.Model;
using Mvtap.Datapath;
using Mvtap.Datapath.Tests;
using Mvtap.Linux;

namespace Mvtap.Datapath.Tests.E2e;

[Collection("e2e-integrity")]
public sealed class E2eIntegrityTests
{
    private const int Size = 64 << 20;
    private const int Port = 5201;

    private static bool PingDontFragment(string ns, string ip, int payload)
    {
        for (int attempt = 0; attempt < 3; attempt++)
        {
            try
            {
                TestNet.Run("ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "2", "-q", "-M", "do", "-s", payload.ToString(), ip);
                return true;
            }
            catch (InvalidOperationException) { /* no reply (the first may spend its time on ARP): try again */ }
        }
        return false;
    }

    private static byte[] SendAndHash(string serverNs, string serverIp, string clientNs, byte[] payload) =>
        TcpTransfer.SendAndHash(serverNs, serverIp, clientNs, Port, payload, TimeSpan.FromSeconds(90), receiveBuffer: 1 << 20);

    [Theory]
    [InlineData(1500)]
    [InlineData(9000)]
    public void SixtyFourMegabytesOfTcpFromAnEndpointToTheExternalHostArriveIntact(int mtu)
    {
        using var topo = new DatapathTopology();
        topo.Host.Ip("link", "set", DatapathTopology.LowerName, "mtu", mtu.ToString());
        topo.Ext.Ip("link", "set", DatapathTopology.ExtName, "mtu", mtu.ToString());
        var nsA = topo.NewNamespace();
        using var sw = new DatapathSwitch(topo.Host.Name);
        var dp = sw.OpenLower(DatapathTopology.LowerName);
        var ep = sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "a", Mode = EndpointMode.Vepa, Mtu = mtu }, nsA.Name, "eth0");
        // The datapath's end of the pair is part of the endpoint's path too: a veth drops what exceeds the receiver's MTU.
        topo.Host.Ip("link", "set", sw.AttachmentOf(ep).OuterName, "mtu", mtu.ToString());
        DatapathTopology.Address(nsA, "eth0", 2);
        Assert.Equal(mtu, dp.Port.Lower.Mtu);
        Assert.Equal(mtu, ep.Mtu);

        Assert.True(PingDontFragment(nsA.Name, DatapathTopology.ExtIp, mtu - 28), $"a {mtu}-byte IP packet, unfragmented, endpoint -> external");
        Assert.True(PingDontFragment(topo.Ext.Name, "10.77.0.2", mtu - 28), $"a {mtu}-byte IP packet, unfragmented, external -> endpoint");

        var payload = new byte[Size];
        new Random(mtu).NextBytes(payload);
        Assert.Equal(SHA256.HashData(payload), SendAndHash(topo.Ext.Name, DatapathTopology.ExtIp, nsA.Name, payload));
        Assert.True(ep.Counters.TxBytes >= Size, $"{ep.Counters.TxBytes} bytes counted from the endpoint");
        Assert.Equal(0, dp.Stats.Truncated);
        Assert.Null(dp.Fault);
    }
}
