// mvtap's GsoSegmenter against the kernel's skb_gso_segment, byte for byte. A GSO frame with its
// virtio-net header is sent with PACKET_VNET_HDR on a TAP interface whose queue has not taken
// the TSO offloads (TUNSETOFFLOAD without TSO4/TSO6), so validate_xmit_skb segments it in
// software on the way to the queue; what the TAP fd reads (vnet header included) must equal what
// GsoSegmenter writes for the same frame. TUNSETOFFLOAD(0): checksums computed, header all zero;
// TUNSETOFFLOAD(CSUM): partial checksums, NEEDS_CSUM (spec 5.6, T31); legacy UFO over IPv4:
// fragments marked DATA_VALID either way.
// Where mvtap deliberately differs (GsoLayout refuses, the kernel would go on): more than
// GsoSegmenter.MaxSegments segments (the kernel's limit is 65535: a guest could ask for a 1000x
// amplification); csum_start not at the transport header (the kernel would take a wrong
// transport header); UFO with a gso_size that is not a multiple of 8 (the kernel would send
// overlapping fragments); and, not yet done: UFO over IPv6 (the fragment header gets a fresh
// random identification, so it could not be compared byte for byte anyway) and IPv6 extension
// headers before TCP/UDP.
using Mvtap.Core.Frames;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;
using Mvtap.Tests.Gso;

namespace Mvtap.Linux.Tests;

public sealed class GsoKernelDifferentialTests : IDisposable
{
    private readonly TestNamespace _ns = new();
    private readonly Rtnetlink _rt;

    public GsoKernelDifferentialTests()
    {
        try { _rt = Rtnetlink.InNamespace(_ns.Name); }
        catch { _ns.Dispose(); throw; }
    }

    public void Dispose()
    {
        _rt.Dispose();
        _ns.Dispose();
    }

    public static TheoryData<string, bool> Cases()
    {
        var data = new TheoryData<string, bool>();
        foreach (var name in Specs.Keys)
        {
            data.Add(name, false);
            data.Add(name, true);
        }
        return data;
    }

    private static readonly Dictionary<string, GsoFrameSpec> Specs = new()
    {
        ["tcpv4 3000/1000"] = new(Payload: 3000, Mss: 1000),
        ["tcpv4 64k/1448 with options"] = new(Payload: 65000 - 52, Mss: 1448, TcpOptions: 12, IpId: 0xFFFE),
        ["tcpv4 last shorter, FIN PSH CWR"] = new(Payload: 2500, Mss: 1000, TcpFlags: 0x99, Ecn: true),
        ["tcpv4 without NEEDS_CSUM"] = new(Payload: 3000, Mss: 1000, NeedsCsum: false),
        ["tcpv6 4000/1440"] = new(Ipv6: true, Payload: 4000, Mss: 1440),
        ["tcpv6 64k/1428"] = new(Ipv6: true, Payload: 65000, Mss: 1428, TcpOptions: 12),
        ["tcpv4 vlan"] = new(Vlan: true, Payload: 3000, Mss: 1000),
        ["uso ipv4"] = new(Udp: true, Payload: 3500, Mss: 1200),
        ["uso ipv6"] = new(Ipv6: true, Udp: true, Payload: 3500, Mss: 1200),
        ["ufo ipv4"] = new(Udp: true, Ufo: true, Payload: 3500, Mss: 1480),
        ["ufo ipv4 without NEEDS_CSUM"] = new(Udp: true, Ufo: true, Payload: 5000, Mss: 1000, NeedsCsum: false),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void SegmentsEqualTheKernels(string name, bool partialChecksums)
    {
        var spec = Specs[name] with { Dst = [0x02, 0x6D, 0x76, 0x74, 0x61, 0x70] };
        var (frame, vnet) = GsoFrames.Build(spec);

        var sink = new CollectingSink();
        Assert.Equal(GsoVerdict.Segmented, GsoSegmenter.Segment(frame, vnet, partialChecksums, ref sink, out int total, out _));

        using var tap = NetNamespace.Run(_ns.Name, () => TapDevice.Create("mvgso%d", vnetHeader: true));
        tap.SetOffload(partialChecksums ? Tun.TUN_F_CSUM : 0);
        _rt.SetUp(tap.Name, true);
        var link = _rt.GetLink(tap.Name)!;
        using var tx = NetNamespace.Run(_ns.Name, () => new PacketSocket(link.Index, new PacketSocketOptions { VnetHeader = true, Protocol = 0 }));
        var header = new byte[VirtioNetHeader.Size];
        vnet.Write(header);
        Assert.True(tx.Send([.. header, .. frame]));

        var kernel = ReadFramesTo(tap, spec.Dst!, total);
        Assert.Equal(total, kernel.Count);
        for (int i = 0; i < total; i++)
        {
            var (mine, mineHeader) = sink.Segments[i];
            var mineWithHeader = new byte[VirtioNetHeader.Size + mine.Length];
            mineHeader.Write(mineWithHeader);
            mine.CopyTo(mineWithHeader, VirtioNetHeader.Size);
            Assert.Equal(Convert.ToHexString(kernel[i]), Convert.ToHexString(mineWithHeader));
        }
    }

    private static List<byte[]> ReadFramesTo(TapDevice tap, byte[] dst, int expected)
    {
        var frames = new List<byte[]>();
        var buffer = new byte[70000];
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (frames.Count < expected && DateTime.UtcNow < deadline)
        {
            tap.WaitReadable(100);
            int n;
            while ((n = tap.Read(buffer)) > 0)
                if (buffer.AsSpan(VirtioNetHeader.Size, 6).SequenceEqual(dst)) frames.Add(buffer[..n]);
        }
        return frames;
    }
}
