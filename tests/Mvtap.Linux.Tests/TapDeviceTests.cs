// TAP queues in a private namespace: /dev/net/tun taps and a macvtap character device, frames
// both ways checked with a packet socket, and the ioctls the datapath relies on.
using Mvtap.Core.Frames;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;
using Mvtap.Core.Model;

namespace Mvtap.Linux.Tests;

public sealed class TapDeviceTests : IDisposable
{
    private readonly TestNamespace _ns = new();
    private readonly Rtnetlink _rt;

    public TapDeviceTests() => _rt = Rtnetlink.InNamespace(_ns.Name);

    public void Dispose()
    {
        _rt.Dispose();
        _ns.Dispose();
    }

    private TapDevice CreateTap(string name, bool vnet = true, bool multiQueue = false) =>
        NetNamespace.Run(_ns.Name, () => TapDevice.Create(name, vnet, multiQueue));

    private static byte[]? ReadTestFrame(TapDevice tap, int vnet)
    {
        var buffer = new byte[4096];
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (DateTime.UtcNow < deadline)
        {
            tap.WaitReadable(100);
            int n;
            while ((n = tap.Read(buffer)) > 0)
                if (TestNet.IsTestFrame(buffer.AsSpan(vnet, n - vnet))) return buffer[..n];
        }
        return null;
    }

    private static byte[]? ReceiveTestFrame(PacketSocket s)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (DateTime.UtcNow < deadline)
        {
            s.WaitReadable(100);
            while (s.Ring!.TryReceive(out var f))
                if (TestNet.IsTestFrame(f.Data[s.VnetHeaderSize..])) return f.Data.ToArray();
        }
        return null;
    }

    [Fact]
    public void FramesCrossBetweenTapFdAndPacketSocketBothWays()
    {
        using var tap = CreateTap("mvtt%d");
        Assert.StartsWith("mvtt", tap.Name);
        Assert.True(tap.VnetHeader);
        _rt.SetUp(tap.Name, true);
        var link = _rt.GetLink(tap.Name)!;
        var tapMac = link.Address!.Value;
        using var sock = NetNamespace.Run(_ns.Name, () => new PacketSocket(link.Index, new PacketSocketOptions { RxRing = PacketRingGeometry.Default }));

        // Into the tap fd → the interface receives it.
        var peer = TestNet.RandomMac();
        var frame = TestNet.Frame(tapMac, peer, 7001, 80);
        Assert.True(tap.Write([.. new byte[10], .. frame]));
        var got = ReceiveTestFrame(sock);
        Assert.Equal(frame, got);

        // Out of the interface → the tap fd reads it, after a zero virtio-net header.
        var back = TestNet.Frame(peer, tapMac, 7002, 90);
        Assert.True(sock.Send(back));
        var read = ReadTestFrame(tap, 10);
        Assert.NotNull(read);
        Assert.All(read[..10], b => Assert.Equal(0, b));
        Assert.Equal(back, read[10..]);
    }

    [Fact]
    public void TapWithoutVnetHeaderCarriesBareFrames()
    {
        using var tap = CreateTap("mvtb%d", vnet: false);
        _rt.SetUp(tap.Name, true);
        var link = _rt.GetLink(tap.Name)!;
        using var sock = NetNamespace.Run(_ns.Name, () => new PacketSocket(link.Index));
        var frame = TestNet.Frame(TestNet.RandomMac(), link.Address!.Value, 7100, 64);
        Assert.True(sock.Send(frame));
        Assert.Equal(frame, ReadTestFrame(tap, 0));
    }

    [Fact]
    public void DatapathIoctlsAreAccepted()
    {
        using var tap = CreateTap("mvti%d");
        Assert.Equal(int.MaxValue, tap.GetSendBuffer()); // raised at open: a default sndbuf can hang writers
        tap.SetSendBuffer(1 << 20);
        Assert.Equal(1 << 20, tap.GetSendBuffer());
        tap.SetOffload(Tun.TUN_F_CSUM | Tun.TUN_F_TSO4 | Tun.TUN_F_TSO6 | Tun.TUN_F_TSO_ECN);
        Assert.Equal(10, tap.GetVnetHeaderSize());
        tap.SetVnetHeaderSize(12);
        Assert.Equal(12, tap.GetVnetHeaderSize());
        var e = Assert.Throws<SystemCallException>(() => tap.SetVnetHeaderSize(4));
        Assert.Equal((int)Errno.EINVAL, e.Errno);
        e = Assert.Throws<SystemCallException>(() => tap.SetOffload(0x8000_0000));
        Assert.Equal((int)Errno.EINVAL, e.Errno);
        uint features = tap.GetFeatures();
        Assert.Equal((uint)(Tun.IFF_TAP | Tun.IFF_NO_PI | Tun.IFF_VNET_HDR | Tun.IFF_MULTI_QUEUE), features & 0x5102);
        tap.SetOwner(0);
        tap.SetGroup(0);
    }

    // A process spawned concurrently by another test (fork before exec) briefly holds a copy of every
    // fd, so the closed queue can stay attached a moment longer: retry EBUSY, bounded.
    private TapDevice ReattachWhenReleased(string name)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (true)
        {
            try { return CreateTap(name); }
            catch (SystemCallException e) when (e.Errno == (int)Errno.EBUSY && DateTime.UtcNow < deadline) { Thread.Sleep(10); }
        }
    }

    [Fact]
    public void PersistKeepsTheInterfaceAfterClose()
    {
        string name = "mvtp" + TestNet.Suffix();
        using (var tap = CreateTap(name)) tap.SetPersist(true);
        Assert.NotNull(_rt.GetLink(name));
        using (var again = ReattachWhenReleased(name)) again.SetPersist(false);
        TestNet.WaitFor(() => _rt.GetLink(name), l => l is null);
        Assert.Null(_rt.GetLink(name));
    }

    [Fact]
    public void MultiQueueTapAcceptsSeveralQueues()
    {
        string name = "mvtm" + TestNet.Suffix();
        using var q0 = CreateTap(name, multiQueue: true);
        using var q1 = CreateTap(name, multiQueue: true);
        Assert.Equal(name, q1.Name);
        q1.SetQueueEnabled(false);
        q1.SetQueueEnabled(true);
        // A single-queue attach to a multi-queue device is refused.
        var e = Assert.Throws<SystemCallException>(() => CreateTap(name, multiQueue: false));
        Assert.Equal((int)Errno.EINVAL, e.Errno);
    }

    [Fact]
    public void MacvtapCharacterDeviceCarriesFrames()
    {
        string va = "ma" + TestNet.Suffix(), vb = "mb" + TestNet.Suffix();
        Veth.Create(_rt, va, vb);
        _rt.SetUp(va, true);
        _rt.SetUp(vb, true);
        var lower = _rt.GetLink(va)!;
        _rt.CreateLink(new LinkRequest { Name = "mvtap0", Kind = "macvtap", Link = lower.Index, Up = true });
        var mvt = _rt.GetLink("mvtap0")!;
        // sysfs only shows the namespace's devices when mounted from inside it, which `ip netns exec` does.
        string dev = TestNet.Run("ip", "netns", "exec", _ns.Name, "cat", $"/sys/class/net/mvtap0/tap{mvt.Index}/dev");
        var (major, minor) = DeviceNodes.ParseDevNumber(dev);
        // A private node: /dev/tapN may belong to another namespace's macvtap of the same index.
        string node = Path.Combine(Path.GetTempPath(), $"mvtap-test-{TestNet.Suffix()}");
        DeviceNodes.CreateCharacterDevice(node, major, minor, 0x180 /* 0600 */);
        try
        {
            using var q = TapDevice.OpenMacvtap(node);
            Assert.Equal("mvtap0", q.Name);
            q.SetOffload(Tun.TUN_F_CSUM);
            Assert.Equal(10, q.GetVnetHeaderSize());
            var peer = _rt.GetLink(vb)!;
            using var wire = NetNamespace.Run(_ns.Name, () => new PacketSocket(peer.Index, new PacketSocketOptions { RxRing = PacketRingGeometry.Default }));

            // Written to the macvtap fd = sent by the endpoint: leaves through the lower onto the wire (vepa).
            var frame = TestNet.Frame(TestNet.RandomMac(), mvt.Address!.Value, 7300, 70);
            Assert.True(q.Write([.. new byte[10], .. frame]));
            Assert.Equal(frame, ReceiveTestFrame(wire));

            // From the wire to the endpoint's MAC = read from the macvtap fd.
            var back = TestNet.Frame(mvt.Address!.Value, peer.Address!.Value, 7301, 70);
            Assert.True(wire.Send(back));
            var read = ReadTestFrame(q, 10);
            Assert.NotNull(read);
            Assert.Equal(back, read[10..]);
        }
        finally
        {
            File.Delete(node);
        }
    }
}
