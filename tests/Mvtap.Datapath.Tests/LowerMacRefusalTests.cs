// A passthru endpoint's MAC is its lower's (spec 4.4). When the lower device refuses the new MAC,
// the whole change is refused and the endpoint, its interface and the lower stay exactly as they
// were. The refusing device is real: the lower is a kernel macvlan, which refuses (EADDRINUSE) the
// MAC of its own lower device (macvlan_set_mac_address → macvlan_addr_busy).
using Mvtap.Core.Model;
using Mvtap.Datapath;

namespace Mvtap.Datapath.Tests;

[Collection("datapath")]
public sealed class LowerMacRefusalTests
{
    private const string KernelMacvlan = "kmv0";

    [Fact]
    public void A_passthru_mac_change_the_lower_refuses_leaves_the_endpoint_exactly_as_before()
    {
        using var topo = new DatapathTopology();
        var nsA = topo.NewNamespace();
        topo.Host.Ip("link", "add", "link", DatapathTopology.LowerName, "name", KernelMacvlan, "type", "macvlan", "mode", "bridge");
        topo.Host.Ip("link", "set", KernelMacvlan, "up");
        var busyMac = MacOf(topo.Host, DatapathTopology.LowerName);
        using var sw = new DatapathSwitch(topo.Host.Name);
        var dp = sw.OpenLower(KernelMacvlan);
        var p = sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "p", Mode = EndpointMode.Passthru, BcQueueLen = 77 }, nsA.Name, "eth0");
        var lowerMac = MacOf(topo.Host, KernelMacvlan);
        Assert.Equal(lowerMac, p.Mac.ToString());
        string Snapshot() => $"{p.Mac} {p.Mode} {p.Flags} {p.Mtu} {p.IsUp} {p.BcQueueLenRequest} {p.SpoofCheck} [{string.Join(",", p.SourceList)}] {dp.Port.Lower.Mac}";
        var before = Snapshot();
        var table = dp.Port.Table;

        var e = Assert.Throws<MvtapException>(() => dp.Port.Change(p, new EndpointChange
        {
            Mac = Core.Frames.MacAddress.Parse(busyMac), Flags = EndpointFlags.NoPromisc, Mtu = 1400, SpoofCheck = false, BcQueueLen = 5,
        }));

        Assert.Equal(Errno.EADDRINUSE, e.Errno);
        Assert.Contains(KernelMacvlan, e.Message);
        Assert.Equal(before, Snapshot());
        Assert.Same(table, dp.Port.Table);
        Assert.Equal(lowerMac, MacOf(topo.Host, KernelMacvlan));
        Assert.Equal(lowerMac, MacOf(nsA, "eth0"));
        Assert.Contains("mtu 1500", nsA.Ip("link", "show", "eth0"));

        // a MAC the device takes goes through, interface and lower with it
        var free = TestNet.RandomMac();
        dp.Port.Change(p, new EndpointChange { Mac = free, Mtu = 1400 });
        Assert.Equal(free.ToString(), MacOf(topo.Host, KernelMacvlan));
        Assert.Equal(free.ToString(), MacOf(nsA, "eth0"));
        Assert.Equal(1400, p.Mtu);
    }

    private static string MacOf(TestNamespace ns, string ifName)
    {
        var words = ns.Ip("-o", "link", "show", ifName).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return words[Array.IndexOf(words, "link/ether") + 1];
    }
}
