// AF_PACKET uapi (<linux/if_packet.h>): addresses, the TPACKET_V2 and V3 ring headers, memberships.
using System.Runtime.InteropServices;

namespace Mvtap.Linux.Interop;

/// <summary>struct sockaddr_ll (20 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct SockaddrLl
{
    public ushort Family;
    public ushort Protocol;      // network byte order
    public int IfIndex;
    public ushort HaType;
    public byte PktType;
    public byte HaLength;
    public fixed byte Address[8];
}

/// <summary>struct tpacket_req (16 bytes): geometry of a TPACKET_V1/V2 ring.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct TpacketReq
{
    public uint BlockSize;
    public uint BlockCount;
    public uint FrameSize;
    public uint FrameCount;
}

/// <summary>struct tpacket2_hdr (32 bytes): the head of one TPACKET_V2 frame slot; struct
/// sockaddr_ll follows at TPACKET_ALIGN(32).</summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
public struct Tpacket2Hdr
{
    [FieldOffset(0)] public uint Status;
    [FieldOffset(4)] public uint Length;
    [FieldOffset(8)] public uint SnapLength;
    [FieldOffset(12)] public ushort Mac;
    [FieldOffset(14)] public ushort Net;
    [FieldOffset(16)] public uint Sec;
    [FieldOffset(20)] public uint Nsec;
    [FieldOffset(24)] public ushort VlanTci;
    [FieldOffset(26)] public ushort VlanTpid;
}

/// <summary>struct tpacket_req3 (28 bytes): geometry of a TPACKET_V3 ring.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct TpacketReq3
{
    public uint BlockSize;
    public uint BlockCount;
    public uint FrameSize;
    public uint FrameCount;
    public uint RetireBlockTimeoutMs;
    public uint SizeofPriv;
    public uint FeatureReqWord;
}

/// <summary>struct tpacket3_hdr (48 bytes): one frame inside a V3 block.</summary>
[StructLayout(LayoutKind.Explicit, Size = 48)]
public struct Tpacket3Hdr
{
    [FieldOffset(0)] public uint NextOffset;
    [FieldOffset(4)] public uint Sec;
    [FieldOffset(8)] public uint Nsec;
    [FieldOffset(12)] public uint SnapLength;
    [FieldOffset(16)] public uint Length;
    [FieldOffset(20)] public uint Status;
    [FieldOffset(24)] public ushort Mac;
    [FieldOffset(26)] public ushort Net;
    [FieldOffset(28)] public uint RxHash;       // hv1.tp_rxhash
    [FieldOffset(32)] public uint VlanTci;      // hv1.tp_vlan_tci
    [FieldOffset(36)] public ushort VlanTpid;   // hv1.tp_vlan_tpid
}

/// <summary>struct tpacket_block_desc with its tpacket_hdr_v1 flattened (48 bytes).</summary>
[StructLayout(LayoutKind.Explicit, Size = 48)]
public struct TpacketBlockDesc
{
    [FieldOffset(0)] public uint Version;
    [FieldOffset(4)] public uint OffsetToPriv;
    [FieldOffset(8)] public uint BlockStatus;
    [FieldOffset(12)] public uint PacketCount;
    [FieldOffset(16)] public uint OffsetToFirstPacket;
    [FieldOffset(20)] public uint BlockLength;
    [FieldOffset(24)] public ulong SequenceNumber;
}

/// <summary>struct packet_mreq (16 bytes): PACKET_ADD/DROP_MEMBERSHIP argument.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct PacketMreq
{
    public int IfIndex;
    public ushort Type;
    public ushort AddressLength;
    public fixed byte Address[8];
}

/// <summary>struct tpacket_stats_v3 (12 bytes): PACKET_STATISTICS for a V3 socket (reset on read).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct TpacketStatsV3
{
    public uint Packets;
    public uint Drops;
    public uint FreezeQueueCount;
}

public static class PacketAbi
{
    public const int SOL_PACKET = 263;
    public const ushort ETH_P_ALL = 0x0003;
    public const int PACKET_ADD_MEMBERSHIP = 1;
    public const int PACKET_DROP_MEMBERSHIP = 2;
    public const int PACKET_RX_RING = 5;
    public const int PACKET_STATISTICS = 6;
    public const int PACKET_COPY_THRESH = 7;
    public const int PACKET_AUXDATA = 8;
    public const int PACKET_VERSION = 10;
    public const int PACKET_VNET_HDR = 15;
    public const int PACKET_QDISC_BYPASS = 20;
    public const int PACKET_IGNORE_OUTGOING = 23;
    public const ushort PACKET_MR_MULTICAST = 0;
    public const ushort PACKET_MR_PROMISC = 1;
    public const ushort PACKET_MR_ALLMULTI = 2;
    public const ushort PACKET_MR_UNICAST = 3;
    public const int TPACKET_V2 = 1;
    public const int TPACKET_V3 = 2;
    public const uint TP_STATUS_KERNEL = 0;
    public const uint TP_STATUS_USER = 1;
    public const uint TP_STATUS_COPY = 2;
    public const uint TP_STATUS_LOSING = 4;
    public const uint TP_STATUS_CSUMNOTREADY = 8;
    public const uint TP_STATUS_VLAN_VALID = 0x10;
    public const uint TP_STATUS_VLAN_TPID_VALID = 0x40;
    public const uint TP_STATUS_CSUM_VALID = 0x80;
    public const byte PACKET_HOST = 0, PACKET_BROADCAST = 1, PACKET_MULTICAST = 2, PACKET_OTHERHOST = 3, PACKET_OUTGOING = 4;
    /// <summary>sizeof(struct virtio_net_hdr): what PACKET_VNET_HDR prepends/expects.</summary>
    public const int VirtioNetHdrSize = 10;
}
