// Every struct handed to the kernel has the size and key offsets of its C definition
// (values read once with gcc on x86_64 glibc/Linux 6.18 headers, hard-coded here).
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Mvtap.Linux.Interop;

namespace Mvtap.Linux.Tests;

public class StructSizeTests
{
    private static int Offset<T>(string field) => (int)Marshal.OffsetOf<T>(field);

    private static unsafe int SockaddrAddressOffset() { SockaddrLl s; return (int)(s.Address - (byte*)&s); }
    private static unsafe int MreqAddressOffset() { PacketMreq s; return (int)(s.Address - (byte*)&s); }

    [Fact]
    public void ITimerSpecMatchesTimeH()
    {
        // <time.h> struct itimerspec: two struct timespec (tv_sec, tv_nsec: 8 bytes each)
        Assert.Equal(32, Unsafe.SizeOf<ITimerSpec>());
        Assert.Equal(16, Offset<ITimerSpec>(nameof(ITimerSpec.ValueSeconds)));
        Assert.Equal(24, Offset<ITimerSpec>(nameof(ITimerSpec.ValueNanoseconds)));
    }

    [Fact]
    public void StatVfsMatchesSysStatvfsH()
    {
        // <sys/statvfs.h> struct statvfs (glibc, LP64)
        Assert.Equal(112, Unsafe.SizeOf<StatVfsBuffer>());
        Assert.Equal(8, Offset<StatVfsBuffer>(nameof(StatVfsBuffer.FragmentSize)));
        Assert.Equal(24, Offset<StatVfsBuffer>(nameof(StatVfsBuffer.BlocksFree)));
        Assert.Equal(72, Offset<StatVfsBuffer>(nameof(StatVfsBuffer.Flags)));
    }

    [Fact]
    public void PacketStructsMatchIfPacketH()
    {
        // <linux/if_packet.h>
        Assert.Equal(20, Unsafe.SizeOf<SockaddrLl>());
        Assert.Equal(4, Offset<SockaddrLl>(nameof(SockaddrLl.IfIndex)));
        Assert.Equal(10, Offset<SockaddrLl>(nameof(SockaddrLl.PktType)));
        Assert.Equal(11, Offset<SockaddrLl>(nameof(SockaddrLl.HaLength)));
        Assert.Equal(12, SockaddrAddressOffset());
        Assert.Equal(16, Unsafe.SizeOf<TpacketReq>());
        Assert.Equal(12, Offset<TpacketReq>(nameof(TpacketReq.FrameCount)));
        Assert.Equal(32, Unsafe.SizeOf<Tpacket2Hdr>());
        Assert.Equal(8, Offset<Tpacket2Hdr>(nameof(Tpacket2Hdr.SnapLength)));
        Assert.Equal(12, Offset<Tpacket2Hdr>(nameof(Tpacket2Hdr.Mac)));
        Assert.Equal(16, Offset<Tpacket2Hdr>(nameof(Tpacket2Hdr.Sec)));
        Assert.Equal(24, Offset<Tpacket2Hdr>(nameof(Tpacket2Hdr.VlanTci)));
        Assert.Equal(26, Offset<Tpacket2Hdr>(nameof(Tpacket2Hdr.VlanTpid)));
        Assert.Equal(28, Unsafe.SizeOf<TpacketReq3>());
        Assert.Equal(16, Offset<TpacketReq3>(nameof(TpacketReq3.RetireBlockTimeoutMs)));
        Assert.Equal(24, Offset<TpacketReq3>(nameof(TpacketReq3.FeatureReqWord)));
        Assert.Equal(48, Unsafe.SizeOf<Tpacket3Hdr>());
        Assert.Equal(0, Offset<Tpacket3Hdr>(nameof(Tpacket3Hdr.NextOffset)));
        Assert.Equal(12, Offset<Tpacket3Hdr>(nameof(Tpacket3Hdr.SnapLength)));
        Assert.Equal(16, Offset<Tpacket3Hdr>(nameof(Tpacket3Hdr.Length)));
        Assert.Equal(20, Offset<Tpacket3Hdr>(nameof(Tpacket3Hdr.Status)));
        Assert.Equal(24, Offset<Tpacket3Hdr>(nameof(Tpacket3Hdr.Mac)));
        Assert.Equal(26, Offset<Tpacket3Hdr>(nameof(Tpacket3Hdr.Net)));
        Assert.Equal(28, Offset<Tpacket3Hdr>(nameof(Tpacket3Hdr.RxHash)));
        // tpacket_block_desc = version, offset_to_priv, then tpacket_hdr_v1 at 8
        Assert.Equal(48, Unsafe.SizeOf<TpacketBlockDesc>());
        Assert.Equal(8, Offset<TpacketBlockDesc>(nameof(TpacketBlockDesc.BlockStatus)));
        Assert.Equal(12, Offset<TpacketBlockDesc>(nameof(TpacketBlockDesc.PacketCount)));
        Assert.Equal(16, Offset<TpacketBlockDesc>(nameof(TpacketBlockDesc.OffsetToFirstPacket)));
        Assert.Equal(20, Offset<TpacketBlockDesc>(nameof(TpacketBlockDesc.BlockLength)));
        Assert.Equal(24, Offset<TpacketBlockDesc>(nameof(TpacketBlockDesc.SequenceNumber)));
        Assert.Equal(16, Unsafe.SizeOf<PacketMreq>());
        Assert.Equal(4, Offset<PacketMreq>(nameof(PacketMreq.Type)));
        Assert.Equal(6, Offset<PacketMreq>(nameof(PacketMreq.AddressLength)));
        Assert.Equal(8, MreqAddressOffset());
        Assert.Equal(12, Unsafe.SizeOf<TpacketStatsV3>());
        Assert.Equal(48, PacketBlockRing.TpacketHeaderLength); // TPACKET_ALIGN(sizeof(struct tpacket3_hdr))
    }

    [Fact]
    public void SocketStructsMatchSysSocketH()
    {
        // <sys/uio.h>, <sys/socket.h>, <poll.h>, x86_64
        Assert.Equal(16, Unsafe.SizeOf<IoVec>());
        Assert.Equal(56, Unsafe.SizeOf<MsgHdr>());
        Assert.Equal(16, Offset<MsgHdr>(nameof(MsgHdr.Iov)));
        Assert.Equal(24, Offset<MsgHdr>(nameof(MsgHdr.IovLength)));
        Assert.Equal(32, Offset<MsgHdr>(nameof(MsgHdr.Control)));
        Assert.Equal(48, Offset<MsgHdr>(nameof(MsgHdr.Flags)));
        Assert.Equal(64, Unsafe.SizeOf<MMsgHdr>());
        Assert.Equal(56, Offset<MMsgHdr>(nameof(MMsgHdr.Length)));
        Assert.Equal(8, Unsafe.SizeOf<PollFd>());
    }

    [Fact]
    public void EpollEventIsPackedOnX86_64()
    {
        // <sys/epoll.h>: __EPOLL_PACKED on x86_64
        Assert.Equal(12, Unsafe.SizeOf<EpollEvent>());
        Assert.Equal(4, Offset<EpollEvent>(nameof(EpollEvent.Data)));
    }

    [Fact]
    public void NetlinkStructsMatchNetlinkH()
    {
        // <linux/netlink.h>, <linux/rtnetlink.h>
        Assert.Equal(16, Unsafe.SizeOf<NlMsgHdr>());
        Assert.Equal(4, Unsafe.SizeOf<NlAttr>());
        Assert.Equal(20, Unsafe.SizeOf<NlMsgErr>());
        Assert.Equal(12, Unsafe.SizeOf<SockaddrNl>());
        Assert.Equal(16, Unsafe.SizeOf<IfInfoMsg>());
        Assert.Equal(4, Offset<IfInfoMsg>(nameof(IfInfoMsg.Index)));
        Assert.Equal(8, Offset<IfInfoMsg>(nameof(IfInfoMsg.Flags)));
        Assert.Equal(12, Offset<IfInfoMsg>(nameof(IfInfoMsg.Change)));
        // <linux/if_addr.h> struct ifaddrmsg, <linux/rtnetlink.h> struct rtmsg
        Assert.Equal(8, Unsafe.SizeOf<IfAddrMsg>());
        Assert.Equal(4, Offset<IfAddrMsg>(nameof(IfAddrMsg.Index)));
        Assert.Equal(12, Unsafe.SizeOf<RtMsg>());
        Assert.Equal(4, Offset<RtMsg>(nameof(RtMsg.Table)));
        Assert.Equal(6, Offset<RtMsg>(nameof(RtMsg.Scope)));
        Assert.Equal(8, Offset<RtMsg>(nameof(RtMsg.Flags)));
    }

    [Fact]
    public void IfReqMatchesNetIfH()
    {
        // <net/if.h>
        Assert.Equal(40, Unsafe.SizeOf<IfReq>());
        Assert.Equal(16, Offset<IfReq>(nameof(IfReq.Flags)));
        Assert.Equal(16, Offset<IfReq>(nameof(IfReq.HwFamily)));
    }

    [Fact]
    public void IoctlCodesMatchIfTunH()
    {
        // <linux/if_tun.h> as printed by gcc
        Assert.Equal(0x400454caU, Tun.TUNSETIFF);
        Assert.Equal(0x400454d0U, Tun.TUNSETOFFLOAD);
        Assert.Equal(0x400454d4U, Tun.TUNSETSNDBUF);
        Assert.Equal(0x400454d8U, Tun.TUNSETVNETHDRSZ);
        Assert.Equal(0x800454d2U, Tun.TUNGETIFF);
    }
}
