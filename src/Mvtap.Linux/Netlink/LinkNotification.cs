// Decodes a datagram of rtnetlink notifications into what a link follower needs: which interface
// (ifindex) a link message or an IPv4/IPv6 group join/leave is about, and, for a link that left for
// another namespace, the id and index it has there (RTM_DELLINK with IFLA_NEW_NETNSID/IFLA_NEW_IFINDEX).
// Notifications are outside input: every length is checked, a malformed message ends the datagram's
// decoding (the reader re-reads what it follows) and never throws; nothing is allocated.
using System.Buffers.Binary;
using Mvtap.Linux.Interop;

namespace Mvtap.Linux.Netlink;

public enum LinkNotificationKind : byte { NewLink, DelLink, Multicast }

/// <summary>One notification: its kind, the interface's index in the namespace it came from, and for
/// a link moved away its new namespace's id (as the old one knows it; -1 when none) and new index.</summary>
public readonly record struct LinkNotification(LinkNotificationKind Kind, int IfIndex, int NewNsId = -1, int NewIfIndex = 0)
{
    /// <summary>An RTM_DELLINK that only moved the link to another namespace: it was not unregistered.</summary>
    public bool MovedAway => Kind == LinkNotificationKind.DelLink && NewNsId >= 0;

    /// <summary>Decodes <paramref name="datagram"/> into <paramref name="into"/> (up to its length) and returns
    /// how many were written; <paramref name="malformed"/> when decoding stopped at a fault (the ones before it are kept).</summary>
    public static int Decode(ReadOnlySpan<byte> datagram, Span<LinkNotification> into, out bool malformed)
    {
        malformed = true;
        int written = 0;
        int offset = 0;
        while (offset + 16 <= datagram.Length && written < into.Length)
        {
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(datagram[offset..]);
            ushort type = BinaryPrimitives.ReadUInt16LittleEndian(datagram[(offset + 4)..]);
            if (length < 16 || length > datagram.Length - offset) return written;
            var payload = datagram.Slice(offset + 16, (int)length - 16);
            offset += Math.Min(NetlinkAbi.Align((int)length), datagram.Length - offset);
            switch (type)
            {
                case Rtnl.RTM_NEWLINK or Rtnl.RTM_DELLINK:
                    if (payload.Length < 16) return written; // struct ifinfomsg
                    int index = BinaryPrimitives.ReadInt32LittleEndian(payload[4..]);
                    if (type == Rtnl.RTM_NEWLINK)
                    {
                        into[written++] = new LinkNotification(LinkNotificationKind.NewLink, index);
                        break;
                    }
                    int newNsId = -1, newIndex = 0;
                    if (!MovedTo(payload[16..], ref newNsId, ref newIndex)) return written;
                    into[written++] = new LinkNotification(LinkNotificationKind.DelLink, index, newNsId, newIndex);
                    break;
                case Rtnl.RTM_NEWMULTICAST or Rtnl.RTM_DELMULTICAST:
                    if (payload.Length < 8) return written; // struct ifaddrmsg
                    into[written++] = new LinkNotification(LinkNotificationKind.Multicast, BinaryPrimitives.ReadInt32LittleEndian(payload[4..]));
                    break;
                case NetlinkAbi.NLMSG_ERROR or NetlinkAbi.NLMSG_DONE or NetlinkAbi.NLMSG_NOOP:
                    break;
                default:
                    break; // addresses, routes...: not a link's business
            }
        }
        malformed = false;
        return written;
    }

    // IFLA_NEW_NETNSID and IFLA_NEW_IFINDEX among the attributes; false when an attribute's length is wrong.
    private static bool MovedTo(ReadOnlySpan<byte> attributes, ref int nsid, ref int index)
    {
        int offset = 0;
        while (offset + 4 <= attributes.Length)
        {
            int len = BinaryPrimitives.ReadUInt16LittleEndian(attributes[offset..]);
            int type = BinaryPrimitives.ReadUInt16LittleEndian(attributes[(offset + 2)..]) & NetlinkAbi.NLA_TYPE_MASK;
            if (len < 4 || len > attributes.Length - offset) return false;
            if (type is Rtnl.IFLA_NEW_NETNSID or Rtnl.IFLA_NEW_IFINDEX)
            {
                if (len != 8) return false;
                int value = BinaryPrimitives.ReadInt32LittleEndian(attributes[(offset + 4)..]);
                if (type == Rtnl.IFLA_NEW_NETNSID) nsid = value; else index = value;
            }
            offset += NetlinkAbi.Align(len);
        }
        return true;
    }
}
