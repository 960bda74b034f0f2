// The decoder of rtnetlink notifications the inner link monitor reads (outside input): generated
// datagrams of link, group and other messages decode to exactly what was put in; truncated, flipped
// and random bytes never throw and never yield more than the datagram holds; the netnsid of a
// NETLINK_LISTEN_ALL_NSID control message is read only from a well-formed one.
using System.Buffers.Binary;
using CsCheck;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

namespace Mvtap.Linux.Tests;

public sealed class LinkNotificationTests
{
    private static readonly Gen<LinkNotification> Notification =
        from kind in Gen.Int[0, 2]
        from index in Gen.Int[1, 1 << 20]
        from moved in Gen.Bool
        from nsid in Gen.Int[0, 1000]
        from newIndex in Gen.Int[1, 1 << 20]
        select kind switch
        {
            0 => new LinkNotification(LinkNotificationKind.NewLink, index),
            1 => moved ? new LinkNotification(LinkNotificationKind.DelLink, index, nsid, newIndex) : new LinkNotification(LinkNotificationKind.DelLink, index),
            _ => new LinkNotification(LinkNotificationKind.Multicast, index),
        };

    private static void Message(List<byte> d, ushort type, byte[] payload)
    {
        var h = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(h, (uint)(16 + payload.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(4), type);
        d.AddRange(h);
        d.AddRange(payload);
        while (d.Count % 4 != 0) d.Add(0);
    }

    private static byte[] Attr(ushort type, int value)
    {
        var a = new byte[8];
        BinaryPrimitives.WriteUInt16LittleEndian(a, 8);
        BinaryPrimitives.WriteUInt16LittleEndian(a.AsSpan(2), type);
        BinaryPrimitives.WriteInt32LittleEndian(a.AsSpan(4), value);
        return a;
    }

    // A datagram as the kernel sends it, with an unrelated message (an address) between each.
    private static byte[] Datagram(IEnumerable<LinkNotification> notifications)
    {
        var d = new List<byte>();
        foreach (var n in notifications)
        {
            if (n.Kind == LinkNotificationKind.Multicast)
            {
                var ifa = new byte[8];
                BinaryPrimitives.WriteInt32LittleEndian(ifa.AsSpan(4), n.IfIndex);
                Message(d, Rtnl.RTM_NEWMULTICAST, [.. ifa, .. Attr(7, 0)]);
            }
            else
            {
                var ifi = new byte[16];
                BinaryPrimitives.WriteInt32LittleEndian(ifi.AsSpan(4), n.IfIndex);
                var p = new List<byte>(ifi);
                p.AddRange(Attr(Rtnl.IFLA_MTU, 1500));
                if (n.MovedAway) { p.AddRange(Attr(Rtnl.IFLA_NEW_NETNSID, n.NewNsId)); p.AddRange(Attr(Rtnl.IFLA_NEW_IFINDEX, n.NewIfIndex)); }
                Message(d, n.Kind == LinkNotificationKind.NewLink ? Rtnl.RTM_NEWLINK : Rtnl.RTM_DELLINK, [.. p]);
            }
            Message(d, 20 /* RTM_NEWADDR */, new byte[12]);
        }
        return [.. d];
    }

    [Fact]
    public void GeneratedDatagramsDecodeToWhatWasSent()
    {
        Notification.List[0, 40].Sample(list =>
        {
            var into = new LinkNotification[64];
            int n = LinkNotification.Decode(Datagram(list), into, out bool malformed);
            Assert.False(malformed);
            Assert.Equal(list, into[..n]);
        });
    }

    [Fact]
    public void DamagedDatagramsNeverThrowNorYieldMoreThanTheyHold()
    {
        var damaged =
            from list in Notification.List[1, 10]
            from cut in Gen.Int[0, 400]
            from flips in Gen.Int[0, 1 << 16].Array[0, 6]
            from value in Gen.Byte
            select (list, cut, flips, value);
        damaged.Sample(t =>
        {
            var bytes = Datagram(t.list);
            foreach (var f in t.flips) bytes[f % bytes.Length] ^= t.value;
            bytes = bytes[..Math.Min(bytes.Length, t.cut)];
            var into = new LinkNotification[64];
            int n = LinkNotification.Decode(bytes, into, out _);
            Assert.InRange(n, 0, bytes.Length / 16);
        });
        Gen.Byte.Array[0, 600].Sample(bytes =>
        {
            int n = LinkNotification.Decode(bytes, new LinkNotification[64], out _);
            Assert.InRange(n, 0, bytes.Length / 16);
        });
    }

    [Fact]
    public void ADeletedLinkWithoutANewNamespaceWasUnregisteredAndOneWithItMovedAway()
    {
        var into = new LinkNotification[4];
        LinkNotification.Decode(Datagram([new(LinkNotificationKind.DelLink, 7), new(LinkNotificationKind.DelLink, 8, 3, 2)]), into, out _);
        Assert.False(into[0].MovedAway);
        Assert.True(into[1].MovedAway);
        Assert.Equal((3, 2), (into[1].NewNsId, into[1].NewIfIndex));
    }

    [Fact]
    public void TheListenAllNsidControlMessageIsReadOnlyWhenWellFormed()
    {
        var control = new byte[24];
        BinaryPrimitives.WriteInt64LittleEndian(control, 20);
        BinaryPrimitives.WriteInt32LittleEndian(control.AsSpan(8), NetlinkAbi.SOL_NETLINK);
        BinaryPrimitives.WriteInt32LittleEndian(control.AsSpan(12), NetlinkAbi.NETLINK_LISTEN_ALL_NSID);
        BinaryPrimitives.WriteInt32LittleEndian(control.AsSpan(16), 5);
        Assert.Equal(5, RtnetlinkSubscription.ListenAllNsid(control));
        Assert.Equal(-1, RtnetlinkSubscription.ListenAllNsid(control[..16]));
        Gen.Byte.Array[0, 80].Sample(bytes => { _ = RtnetlinkSubscription.ListenAllNsid(bytes); });
        var huge = (byte[])control.Clone();
        BinaryPrimitives.WriteInt64LittleEndian(huge, long.MaxValue);
        Assert.Equal(-1, RtnetlinkSubscription.ListenAllNsid(huge));
    }
}
