// Reads one datagram of rtnetlink link notifications (RTM_NEWLINK, RTM_DELLINK) into events. The
// datagram is outside input: a message that is truncated, lies about its length or cannot be
// parsed is reported and skipped, never thrown; the messages after it in the datagram are read
// when its length can still be trusted.
using System.Buffers.Binary;
using Mvtap.Linux.Interop;

namespace Mvtap.Linux.Netlink;

/// <summary>One link notification: RTM_NEWLINK (a link appeared or changed) or RTM_DELLINK.</summary>
public readonly record struct LinkEvent(ushort Type, LinkInfo Link)
{
    public bool IsDeletion => Type == Rtnl.RTM_DELLINK;
}

public static class LinkEvents
{
    /// <summary>Adds the datagram's link events to <paramref name="events"/> and a line per skipped
    /// message to <paramref name="skipped"/>; other message types are ignored.</summary>
    public static void Read(ReadOnlyMemory<byte> datagram, List<LinkEvent> events, List<string> skipped)
    {
        int offset = 0;
        while (datagram.Length - offset >= 16)
        {
            var span = datagram.Span[offset..];
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(span);
            ushort type = BinaryPrimitives.ReadUInt16LittleEndian(span[4..]);
            if (length < 16 || length > (uint)span.Length)
            {
                skipped.Add($"a truncated netlink message (length {length}, {span.Length} bytes left)");
                return; // nothing after it can be found
            }
            if (type is Rtnl.RTM_NEWLINK or Rtnl.RTM_DELLINK)
            {
                try { events.Add(new LinkEvent(type, LinkInfo.Parse(datagram.Slice(offset + 16, (int)length - 16)))); }
                catch (Exception e)
                {
                    skipped.Add($"a link event that could not be read ({e.GetType().Name}: {e.Message})");
                }
            }
            offset += NetlinkAbi.Align((int)length);
        }
    }
}
