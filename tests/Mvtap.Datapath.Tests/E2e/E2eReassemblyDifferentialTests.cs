// Reassembly of multicast fragments, kernel macvlan vs mvtap on the same lower (spec 3.8, issue
// 9): crafted fragment sequences from the wire, each showing one rule of ip_frag_queue /
// inet_frag_queue_insert / ip_frag_reasm where a simpler reading of the rules would differ,
// and what the kernel's endpoint and mvtap's endpoint receive compared byte for byte (IP
// headers included: tot_len, frag_off, TOS, checksum as ip_frag_reasm writes them).
using System.Buffers.Binary;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Datapath;
using Mvtap.Datapath.Tests;
using Mvtap.Linux;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

namespace Mvtap.Datapath.Tests.E2e;

[Collection("e2e-reassembly")]
public sealed class E2eReassemblyDifferentialTests
{
    private static readonly MacAddress GroupMac = MacAddress.Parse("01:00:5e:09:09:09");
    private const uint Source = 0x0A636363; // 10.99.99.99, only these frames are compared

    private static byte[] Fragment(ushort id, int offset, int length, bool more, byte fill, int ihl = 20, byte tos = 0, bool df = false)
    {
        var f = new byte[14 + ihl + length];
        EthernetFrame.WriteHeader(f, GroupMac, DifferentialTopology.External, EthernetFrame.EtherTypeIPv4);
        var ip = f.AsSpan(14);
        ip[0] = (byte)(0x40 | ihl / 4);
        ip[1] = tos;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(ihl + length));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], id);
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], (ushort)((more ? 0x2000 : 0) | (df ? 0x4000 : 0) | offset / 8));
        ip[8] = 9;
        ip[9] = 17;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], Source);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], 0xEF090909);
        ip[20..ihl].Fill(1);
        InternetChecksum.WriteIpv4HeaderChecksum(ip[..ihl]);
        ip[ihl..].Fill(fill);
        return f;
    }

    /// <summary>Each sequence with its own IP ID, and whether the kernel delivers its datagram.</summary>
    private static readonly (string Name, bool Delivered, byte[][] Frames)[] Sequences =
    [
        ("repeat within one run is dropped, the datagram kept", true,
            [Fragment(1, 0, 8, true, 1), Fragment(1, 8, 8, true, 2), Fragment(1, 0, 16, true, 3), Fragment(1, 16, 8, false, 4)]),
        ("repeat across two runs received out of order discards", false,
            [Fragment(2, 8, 8, true, 1), Fragment(2, 0, 8, true, 2), Fragment(2, 0, 16, true, 3), Fragment(2, 16, 8, false, 4)]),
        ("a fragment ending past 65535 - IHL makes the datagram undeliverable", false,
            [Fragment(3, 65520, 8, true, 1), Fragment(3, 0, 8, true, 2), Fragment(3, 8, 8, false, 3)]),
        ("a last fragment ending before held data discards", false,
            [Fragment(4, 0, 8, true, 1), Fragment(4, 1000, 984, true, 2), Fragment(4, 992, 8, false, 3)]),
        ("a fragment with MF is cut to a multiple of 8", true,
            [Fragment(5, 0, 12, true, 1), Fragment(5, 8, 8, false, 2)]),
        ("DF from the largest fragment, CE wins over ECT, options of the first", true,
            [Fragment(6, 0, 16, true, 1, ihl: 28, tos: 0x02, df: true), Fragment(6, 16, 8, false, 2, tos: 0x03)]),
        ("a datagram with a hole is held, then completed when the hole is filled", true,
            [Fragment(7, 16, 8, false, 1), Fragment(7, 0, 8, true, 2), Fragment(7, 8, 8, true, 3)]),
        ("fragments behind a VLAN tag are reassembled, with the first one's tag", true,
            [Tagged(Fragment(8, 8, 8, false, 1), 5), Tagged(Fragment(8, 0, 8, true, 2), 9)]),
        ("63 other fragments of its source in between: kept (ipfrag_max_dist 64)", true, Distance(10, 63)),
        ("64 other fragments of its source in between: the datagram starts over", false, Distance(11, 64)),
    ];

    // a datagram's first fragment, first fragments of other datagrams from the same source, its last
    private static byte[][] Distance(ushort id, int between) =>
        [Fragment(id, 0, 8, true, 1), .. Enumerable.Range(0, between).Select(i => Fragment((ushort)(1000 + id * 100 + i), 8, 8, true, 2)), Fragment(id, 8, 8, false, 3)];

    private static byte[] Tagged(byte[] frame, ushort vid)
    {
        var f = new byte[frame.Length + 4];
        frame.AsSpan(0, 12).CopyTo(f);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), EthernetFrame.EtherTypeVlan);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), vid);
        frame.AsSpan(12).CopyTo(f.AsSpan(16));
        return f;
    }

    private static PacketSocket Observer(string ns, int index) => NetNamespace.Run(ns, () => new PacketSocket(index, new PacketSocketOptions
    {
        Protocol = PacketAbi.ETH_P_ALL,
        RxRing = new PacketRingGeometry(1 << 17, 4, 1),
    }));

    private static void Drain(PacketSocket s, List<byte[]> into)
    {
        var ring = s.Ring!;
        while (ring.TryReceive(out var f))
        {
            if (f.PacketType == PacketAbi.PACKET_OUTGOING || f.Data.Length < 34) continue;
            if (f.Data[12] != 0x08 || f.Data[13] != 0x00 || BinaryPrimitives.ReadUInt32BigEndian(f.Data[26..]) != Source) continue;
            // the kernel moves a VLAN tag out of the frame on receive (skb_vlan_untag): keep it beside the bytes
            ushort tci = (f.Status & PacketAbi.TP_STATUS_VLAN_VALID) != 0 ? f.VlanTci : (ushort)0;
            into.Add([(byte)(tci >> 8), (byte)tci, .. f.Data]);
        }
        ring.ReleaseCurrent();
    }

    [Fact]
    public void Crafted_fragment_sequences_are_reassembled_or_refused_exactly_as_the_kernels_macvlan_does()
    {
        using var topo = new DatapathTopology();
        var nsKernel = topo.NewNamespace();
        var nsMvtap = topo.NewNamespace();
        using var sw = new DatapathSwitch(topo.Host.Name);
        var dp = sw.OpenLower(DatapathTopology.LowerName);
        var ep = sw.AddMacvlanEndpoint(dp, new EndpointSettings { Name = "m", Mode = EndpointMode.Bridge }, nsMvtap.Name, "eth0");
        dp.Port.Change(ep, new EndpointChange { AllMulti = true });
        topo.AddKernelMacvlan("k", "bridge", nsKernel, 2);
        nsKernel.Ip("link", "set", "k", "allmulticast", "on");
        nsMvtap.Ip("link", "set", "eth0", "up");
        int Index(string ns, string name) { using var r = Rtnetlink.InNamespace(ns); return r.GetLink(name)!.Index; }
        using var kernelSeen = Observer(nsKernel.Name, Index(nsKernel.Name, "k"));
        using var mvtapSeen = Observer(nsMvtap.Name, Index(nsMvtap.Name, "eth0"));
        using var wire = NetNamespace.Run(topo.Ext.Name, () => new PacketSocket(Index(topo.Ext.Name, DatapathTopology.ExtName), new PacketSocketOptions { Protocol = 0 }));

        foreach (var (name, delivered, frames) in Sequences)
        {
            long before = dp.Stats.FramesFromLower;
            foreach (var f in frames) Assert.True(wire.Send(f), name);
            TestNet.WaitFor(() => dp.Stats.FramesFromLower - before, n => n >= frames.Length);
            List<byte[]> kernel = [], mvtap = [];
            var deadline = DateTime.UtcNow.AddSeconds(delivered ? 5 : 1);
            while (DateTime.UtcNow < deadline && (!delivered || kernel.Count == 0 || mvtap.Count == 0))
            {
                Thread.Sleep(20);
                Drain(kernelSeen, kernel);
                Drain(mvtapSeen, mvtap);
            }
            Thread.Sleep(100);
            Drain(kernelSeen, kernel);
            Drain(mvtapSeen, mvtap);
            Assert.True(delivered == (kernel.Count == 1), $"{name}: the kernel's endpoint got {kernel.Count} frames");
            Assert.True(kernel.Select(Convert.ToHexString).SequenceEqual(mvtap.Select(Convert.ToHexString)),
                $"{name}:\nkernel {string.Join(' ', kernel.Select(Convert.ToHexString))}\nmvtap  {string.Join(' ', mvtap.Select(Convert.ToHexString))}");
        }
        Assert.Null(dp.Fault);
    }
}
