// rtnetlink datagrams as the kernel sends them, through every decoder mvtap has for them. As a
// reply: NetlinkSocket.ParseReplies (dump or ack; documented refusals: NetlinkException for an
// error the kernel reports, InvalidDataException for a message that does not fit), then every
// RTM_NEWLINK/RTM_DELLINK parsed as GetLink(s) does (ifinfomsg, attributes, IFLA_LINKINFO,
// macvlan data and its MACADDR_DATA list; InvalidDataException for a payload too short for its
// ifinfomsg) and every RTM_NEWNSID as GetNsId does. As notifications: LinkNotification.Decode, the
// inner-NIC follower's decoder (links, group joins, RTM_DELLINK of a link moved away with
// IFLA_NEW_NETNSID/IFLA_NEW_IFINDEX), which must never throw and must agree, message by message,
// with LinkInfo.Parse of the same bytes; LinkEvents.Read, the lower monitor's, which reports what
// it skips and never throws; and the datagram's first bytes as the NETLINK_LISTEN_ALL_NSID
// control message the notification socket reads. Input: one byte (bit 0: a dump; bits 1-6: room for
// 1..64 notifications), the request's 4-byte sequence number, then the datagram.
using System.Buffers.Binary;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

namespace Mvtap.Fuzz.Targets;

public static class NetlinkRepliesTarget
{
    private static readonly LinkNotification[] Decoded = new LinkNotification[64];

    public static void Run(ReadOnlySpan<byte> data)
    {
        var input = new FuzzInput(data);
        byte control = input.Byte();
        bool dump = (control & 1) != 0;
        int room = 1 + ((control >> 1) & 63);
        Span<byte> seqBytes = stackalloc byte[4];
        seqBytes.Clear();
        input.Take(4).CopyTo(seqBytes);
        uint seq = BinaryPrimitives.ReadUInt32LittleEndian(seqBytes);
        var datagram = input.Rest();

        var replies = new List<NetlinkMessage>();
        bool interrupted = false;
        try { NetlinkSocket.ParseReplies(datagram, seq, dump, "fuzz", replies, ref interrupted); }
        catch (Exception e) when (e is NetlinkException or InvalidDataException) { }
        foreach (var m in replies)
        {
            if (m.Type == Rtnl.RTM_NEWNSID) _ = Rtnetlink.NsIdOf(m.Payload);
            if (m.Type is not (Rtnl.RTM_NEWLINK or Rtnl.RTM_DELLINK)) continue;
            try { _ = LinkInfo.Parse(m.Payload).OperStateName; }
            catch (InvalidDataException) { }
        }

        Notifications(datagram, room);
        LinkEvents.Read(datagram.ToArray(), new List<LinkEvent>(), new List<string>());
        _ = RtnetlinkSubscription.ListenAllNsid(datagram[..Math.Min(64, datagram.Length)]);
    }

    // Decode, then the same datagram walked here message by message (the framing the decoder
    // documents) with each link message read by LinkInfo.Parse: what Decode returns must be the
    // start of that list, all of it when it reports no fault and had room; it may stop early only
    // at an RTM_DELLINK (it refuses a NEW_NETNSID/NEW_IFINDEX of the wrong size, LinkInfo ignores it).
    private static void Notifications(ReadOnlySpan<byte> datagram, int room)
    {
        var got = Decoded.AsSpan(0, room);
        int count = LinkNotification.Decode(datagram, got, out bool malformed);
        if (count < 0 || count > room) throw new InvalidOperationException($"{count} notifications decoded into room for {room}");

        var expected = new List<LinkNotification>();
        var copy = datagram.ToArray();
        int offset = 0;
        while (offset + 16 <= copy.Length)
        {
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(copy.AsSpan(offset));
            ushort type = BinaryPrimitives.ReadUInt16LittleEndian(copy.AsSpan(offset + 4));
            if (length < 16 || length > copy.Length - offset) break;
            var payload = new ReadOnlyMemory<byte>(copy, offset + 16, (int)length - 16);
            offset += Math.Min(NetlinkAbi.Align((int)length), copy.Length - offset);
            if (type is Rtnl.RTM_NEWLINK or Rtnl.RTM_DELLINK)
            {
                if (payload.Length < 16) break;
                var link = LinkInfo.Parse(payload);
                expected.Add(type == Rtnl.RTM_NEWLINK
                    ? new LinkNotification(LinkNotificationKind.NewLink, link.Index)
                    : new LinkNotification(LinkNotificationKind.DelLink, link.Index, link.NewNetNsId ?? -1, link.NewIfIndex ?? 0));
            }
            else if (type is Rtnl.RTM_NEWMULTICAST or Rtnl.RTM_DELMULTICAST)
            {
                if (payload.Length < 8) break;
                expected.Add(new LinkNotification(LinkNotificationKind.Multicast, BinaryPrimitives.ReadInt32LittleEndian(payload.Span[4..])));
            }
        }

        for (int i = 0; i < count; i++)
            if (i >= expected.Count || got[i] != expected[i])
                throw new InvalidOperationException($"notification {i}: decoded {got[i]}, the message says {(i < expected.Count ? expected[i] : "nothing")}");
        if (count < Math.Min(room, expected.Count))
        {
            if (!malformed) throw new InvalidOperationException($"{count} of {expected.Count} notifications decoded without a fault");
            if (expected[count].Kind != LinkNotificationKind.DelLink)
                throw new InvalidOperationException($"decoding stopped at {expected[count]}, a message LinkInfo reads");
        }
    }
}
