// Link notifications are outside input to the lower monitor: a datagram of them is read into
// events, and whatever is truncated, lies about its length or cannot be parsed is skipped and
// reported, never thrown (CsCheck: random datagrams, and well-formed ones with bytes changed,
// cut or repeated). A well-formed RTM_DELLINK of a link moved away carries where it went.
using CsCheck;
using Mvtap.Core.Frames;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

namespace Mvtap.Linux.Tests;

public sealed class LinkEventsTests
{
    private static byte[] Message(ushort type, int index, string name, int? newNsId = null, int? newIndex = null)
    {
        var b = new NetlinkMessageBuilder(type, 0).Struct(new IfInfoMsg { Index = index, Type = 1, Flags = Rtnl.IFF_UP | Rtnl.IFF_LOWER_UP })
            .String(Rtnl.IFLA_IFNAME, name).U32(Rtnl.IFLA_MTU, 1500).Mac(Rtnl.IFLA_ADDRESS, new MacAddress(0x02_00_00_00_00_01UL));
        b.BeginNested(Rtnl.IFLA_LINKINFO).String(Rtnl.IFLA_INFO_KIND, "macvlan").BeginNested(Rtnl.IFLA_INFO_DATA)
            .U32(Rtnl.IFLA_MACVLAN_MODE, 4).EndNested().EndNested();
        if (newNsId is int id) b.S32(Rtnl.IFLA_NEW_NETNSID, id);
        if (newIndex is int ni) b.S32(Rtnl.IFLA_NEW_IFINDEX, ni);
        return b.Finish(1).ToArray();
    }

    private static readonly byte[] Valid = [.. Message(Rtnl.RTM_NEWLINK, 7, "eth1"), .. Message(Rtnl.RTM_DELLINK, 7, "eth1", newNsId: 3, newIndex: 12)];

    [Fact]
    public void A_deletion_of_a_link_moved_away_says_which_namespace_id_and_index_it_went_to()
    {
        var events = new List<LinkEvent>();
        var skipped = new List<string>();
        LinkEvents.Read(Valid, events, skipped);
        Assert.Empty(skipped);
        Assert.Equal(2, events.Count);
        Assert.False(events[0].IsDeletion);
        Assert.Equal(("eth1", 7, 1500u, (int?)null), (events[0].Link.Name, events[0].Link.Index, events[0].Link.Mtu, events[0].Link.NewNetNsId));
        Assert.True(events[1].IsDeletion);
        Assert.Equal((3, 12), (events[1].Link.NewNetNsId, events[1].Link.NewIfIndex));
    }

    [Fact]
    public void Random_datagrams_never_throw()
    {
        Gen.Byte.Array[0, 600].Sample(bytes =>
        {
            var events = new List<LinkEvent>();
            LinkEvents.Read(bytes, events, []);
        }, iter: 20_000);
    }

    [Fact]
    public void Well_formed_datagrams_with_bytes_changed_cut_or_repeated_never_throw()
    {
        var gen = Gen.Select(Gen.Int[0, Valid.Length - 1].Array[1, 8], Gen.Byte.Array[8], Gen.Int[0, Valid.Length], Gen.Int[1, 3]);
        gen.Sample((positions, values, cut, repeat) =>
        {
            var bytes = Valid.ToArray();
            for (int i = 0; i < positions.Length; i++) bytes[positions[i]] = values[i];
            var datagram = Enumerable.Repeat(bytes[..cut], repeat).SelectMany(b => b).ToArray();
            var events = new List<LinkEvent>();
            var skipped = new List<string>();
            LinkEvents.Read(datagram, events, skipped);
            Assert.True(events.Count <= 2 * repeat);
        }, iter: 20_000);
    }
}
