// IPv6 between the external host and an endpoint, kernel macvlan vs mvtap. Neighbour discovery
// sends its solicitation to the target's solicited-node group (33:33:ff:xx:xx:xx), which the
// endpoint's own IPv6 stack joins: the kernel's macvlan learns the join through the device's
// multicast list (ndo_set_rx_mode, spec 1.5/4.2) and delivers the solicitation. mvtap follows the
// inner veth end's multicast list (InnerLinkMonitor), so the endpoint's filter holds the group too.
using Mvtap.Core.Model;
using Mvtap.Datapath;
using Mvtap.Datapath.Tests;

namespace Mvtap.Datapath.Tests.E2e;

[Collection("e2e-ipv6")]
public sealed class E2eIpv6Tests
{
    private static bool Ping6(string ns, string ip)
    {
        for (int attempt = 0; attempt < 2; attempt++)
        {
            try { TestNet.Run("ip", "netns", "exec", ns, "ping", "-6", "-c", "1", "-W", "2", "-q", ip); return true; }
            catch (InvalidOperationException) { /* no reply; the first may spend its time on neighbour discovery */ }
        }
        return false;
    }

    private static bool ExternalReachesEndpoint(bool kernel)
    {
        using var topo = new DatapathTopology();
        topo.Ext.Ip("addr", "add", "fd00:77::1/64", "dev", DatapathTopology.ExtName, "nodad");
        var ns = topo.NewNamespace();
        using var sw = kernel ? null : new DatapathSwitch(topo.Host.Name);
        if (kernel)
        {
            topo.Host.Ip("link", "add", "link", DatapathTopology.LowerName, "name", "eth0", "type", "macvlan", "mode", "vepa");
            topo.Host.Ip("link", "set", "eth0", "netns", ns.Name);
        }
        else
        {
            var dp = sw!.OpenLower(DatapathTopology.LowerName);
            sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "a", SpoofCheck = false }, ns.Name, "eth0");
        }
        ns.Ip("addr", "add", "fd00:77::2/64", "dev", "eth0", "nodad");
        ns.Ip("link", "set", "eth0", "up");
        return Ping6(topo.Ext.Name, "fd00:77::2");
    }

    [Fact]
    public void TheExternalHostReachesAKernelMacvlanEndpointOverIpv6() => Assert.True(ExternalReachesEndpoint(kernel: true));

    [Fact]
    public void TheExternalHostReachesAnMvtapEndpointOverIpv6() => Assert.True(ExternalReachesEndpoint(kernel: false));
}
