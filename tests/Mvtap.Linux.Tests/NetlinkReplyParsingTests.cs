// Netlink replies walked and parsed without a socket (NetlinkSocket.ParseReplies, LinkInfo.Parse),
// with the malformed datagrams the netlink-replies fuzz target found: each is refused with the
// documented InvalidDataException or NetlinkException, never an index error out of a parser.
using System.Buffers.Binary;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;
using Mvtap.Core.Model;

namespace Mvtap.Linux.Tests;

public class NetlinkReplyParsingTests
{
    private static byte[] Message(ushort type, byte[] payload, ushort flags = 0, uint seq = 1)
    {
        var m = new byte[NetlinkAbi.Align(16 + payload.Length)];
        BinaryPrimitives.WriteUInt32LittleEndian(m, (uint)(16 + payload.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(4), type);
        BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(6), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(8), seq);
        payload.CopyTo(m, 16);
        return m;
    }

    private static bool Parse(byte[] datagram, List<NetlinkMessage> replies, bool dump = false)
    {
        bool interrupted = false;
        return NetlinkSocket.ParseReplies(datagram, 1, dump, "test", replies, ref interrupted);
    }

    [Fact]
    public void An_error_message_too_short_for_its_errno_is_refused_as_truncated()
    {
        Assert.Throws<InvalidDataException>(() => Parse(Message(NetlinkAbi.NLMSG_ERROR, []), []));
    }

    [Fact]
    public void An_extended_ack_claiming_an_echoed_request_longer_than_the_message_has_no_kernel_message()
    {
        var payload = new byte[20];
        BinaryPrimitives.WriteInt32LittleEndian(payload, -22);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(4), 0xFFFFFFF0);
        var e = Assert.Throws<NetlinkException>(() => Parse(Message(NetlinkAbi.NLMSG_ERROR, payload, NetlinkAbi.NLM_F_ACK_TLVS), []));
        Assert.Equal((int)Errno.EINVAL, e.Errno);
        Assert.Null(e.KernelMessage);
    }

    [Fact]
    public void A_capped_extended_ack_gives_the_kernel_message_after_the_echoed_header()
    {
        var payload = new byte[20 + 24];
        BinaryPrimitives.WriteInt32LittleEndian(payload, -95);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(4), 100); // the request was longer than what is echoed
        BinaryPrimitives.WriteUInt16LittleEndian(payload.AsSpan(20), 4 + 16);
        BinaryPrimitives.WriteUInt16LittleEndian(payload.AsSpan(22), NetlinkAbi.NLMSGERR_ATTR_MSG);
        "Unknown device\0\0"u8.CopyTo(payload.AsSpan(24));
        var e = Assert.Throws<NetlinkException>(() =>
            Parse(Message(NetlinkAbi.NLMSG_ERROR, payload, NetlinkAbi.NLM_F_ACK_TLVS | NetlinkAbi.NLM_F_CAPPED), []));
        Assert.Equal(((int)Errno.EOPNOTSUPP, "Unknown device"), (e.Errno, e.KernelMessage));
    }

    [Fact]
    public void A_link_message_shorter_than_its_ifinfomsg_is_refused_as_invalid_data()
    {
        var replies = new List<NetlinkMessage>();
        Parse([.. Message(Rtnl.RTM_NEWLINK, [1, 2, 3, 4]), .. Message(NetlinkAbi.NLMSG_ERROR, new byte[4])], replies);
        var m = Assert.Single(replies);
        Assert.Throws<InvalidDataException>(() => LinkInfo.Parse(m.Payload));
    }

    [Fact]
    public void A_dump_ends_at_done_and_its_links_parse()
    {
        var link = new byte[16 + 8];
        BinaryPrimitives.WriteInt32LittleEndian(link.AsSpan(4), 7); // ifi_index
        BinaryPrimitives.WriteUInt16LittleEndian(link.AsSpan(16), 8); // IFLA_IFNAME "mv0"
        BinaryPrimitives.WriteUInt16LittleEndian(link.AsSpan(18), Rtnl.IFLA_IFNAME);
        "mv0\0"u8.CopyTo(link.AsSpan(20));
        var replies = new List<NetlinkMessage>();
        Assert.True(Parse([.. Message(Rtnl.RTM_NEWLINK, link, 2), .. Message(NetlinkAbi.NLMSG_DONE, new byte[4])], replies, dump: true));
        var info = LinkInfo.Parse(Assert.Single(replies).Payload);
        Assert.Equal((7, "mv0"), (info.Index, info.Name));
    }
}
