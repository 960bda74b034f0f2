// rtnetlink replies as the kernel's answer to a link request arrives: one datagram walked by
// NetlinkSocket.ParseReplies (documented refusals: NetlinkException for an error the kernel
// reports, InvalidDataException for a message that does not fit), then every RTM_NEWLINK
// parsed as GetLink(s) does — ifinfomsg, attributes, IFLA_LINKINFO, macvlan data and its
// MACADDR_DATA list (InvalidDataException for a payload too short for its ifinfomsg). The same
// datagram is then read as link notifications are, by the lower monitor's LinkEvents.Read and
// the NIC follower's LinkNotification.Decode, which refuse nothing by throwing. Input: one byte
// (bit 0: a dump), the request's 4-byte sequence number, then the datagram.
using System.Buffers.Binary;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

namespace Mvtap.Fuzz.Targets;

public static class NetlinkRepliesTarget
{
    public static void Run(ReadOnlySpan<byte> data)
    {
        var input = new FuzzInput(data);
        bool dump = (input.Byte() & 1) != 0;
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
            if (m.Type != Rtnl.RTM_NEWLINK) continue;
            try { _ = LinkInfo.Parse(m.Payload).OperStateName; }
            catch (InvalidDataException) { }
        }

        // as notifications: skipped messages are reported, never thrown
        LinkEvents.Read(datagram.ToArray(), new List<LinkEvent>(), new List<string>());
        Span<LinkNotification> notifications = stackalloc LinkNotification[16];
        LinkNotification.Decode(datagram, notifications, out _);
    }
}
