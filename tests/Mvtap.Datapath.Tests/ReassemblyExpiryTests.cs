// A multicast datagram held in reassembly times out on a datapath that receives nothing more
// (the kernel's ip_expire is a timer, not a check made by the next fragment): its first fragment
// comes from the wire, the port's clock moves past 30 s, and the idle datapath thread drops it,
// counted as reasm_timeout, without another frame arriving.
using System.Buffers.Binary;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Core.Tests;
using Mvtap.Datapath;
using Mvtap.Linux;
using Mvtap.Linux.Netlink;

namespace Mvtap.Datapath.Tests;

[Collection("datapath")]
public sealed class ReassemblyExpiryTests
{
    private static readonly MacAddress Mdns = MacAddress.Parse("01:00:5e:00:00:fb");

    // the first 8 bytes of a UDP datagram to 224.0.0.251, more to come
    private static byte[] FirstFragment(MacAddress source, ushort id)
    {
        var f = new byte[14 + 20 + 8];
        EthernetFrame.WriteHeader(f, Mdns, source, EthernetFrame.EtherTypeIPv4);
        var ip = f.AsSpan(14);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], 28);
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], id);
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], 0x2000); // MF, offset 0
        ip[8] = 1;
        ip[9] = 17;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], 0x0A4D0001); // 10.77.0.1
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], 0xE00000FB);
        InternetChecksum.WriteIpv4HeaderChecksum(ip[..20]);
        return f;
    }

    [Fact]
    public void A_held_fragment_times_out_on_an_idle_datapath_without_another_frame()
    {
        using var topo = new DatapathTopology();
        var ns = topo.NewNamespace();
        var clock = new ManualClock();
        using var sw = new DatapathSwitch(topo.Host.Name, log: _ => { }) { Clock = clock };
        var dp = sw.OpenLower(DatapathTopology.LowerName);
        sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "a", Mode = EndpointMode.Bridge }, ns.Name, "eth0");
        var defrag = dp.Port.Defragmenter;

        int extIndex;
        using (var rtnl = Rtnetlink.InNamespace(topo.Ext.Name)) extIndex = rtnl.GetLink(DatapathTopology.ExtName)!.Index;
        using (var raw = NetNamespace.Run(topo.Ext.Name, () => new PacketSocket(extIndex)))
            Assert.True(raw.Send(FirstFragment(TestNet.RandomMac(), 4242)));
        Assert.Equal(1, TestNet.WaitFor(() => defrag.HeldDatagrams, n => n == 1));
        Assert.Equal(0, dp.Port.Counters[DropReason.ReassemblyTimeout]);

        // 31 s later by the port's clock; nothing else is sent
        Interlocked.Add(ref clock.Ticks, 31_000);
        Assert.Equal(1, TestNet.WaitFor(() => dp.Port.Counters[DropReason.ReassemblyTimeout], n => n >= 1));
        Assert.Equal(0, TestNet.WaitFor(() => defrag.HeldDatagrams, n => n == 0));
        Assert.Equal(DatapathState.Running, dp.State);
    }
}
