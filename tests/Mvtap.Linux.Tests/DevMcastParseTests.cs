// /proc/net/dev_mcast parsing (LinkMulticastList.Parse), with the inputs the dev-mcast fuzz
// target found: an address field is taken only when it is exactly 12 hex digits.
using Mvtap.Core.Frames;
using Mvtap.Linux.Netlink;

namespace Mvtap.Linux.Tests;

public class DevMcastParseTests
{
    private static List<MacAddress> Parse(string text, int ifIndex)
    {
        var groups = new List<MacAddress>();
        LinkMulticastList.Parse(text, ifIndex, groups);
        return groups;
    }

    [Fact]
    public void The_groups_of_the_asked_interface_are_read_in_file_order()
    {
        var text = "1    lo              1     0     01005e000001\n2    eth0            1     0     333300000001\n2    eth0            1     0     01005e0000fb\n";
        Assert.Equal([MacAddress.Parse("33:33:00:00:00:01"), MacAddress.Parse("01:00:5e:00:00:fb")], Parse(text, 2));
    }

    [Fact]
    public void An_address_field_padded_with_NULs_is_not_read_as_a_shorter_address()
    {
        Assert.Empty(Parse("2 eth0 1 0 33330000\0\0\0\0\n", 2));
        Assert.Empty(Parse("2 eth0 1 0 01005e0000f\0\n", 2));
    }

    [Fact]
    public void Lines_that_are_short_or_not_hex_are_skipped()
    {
        Assert.Empty(Parse("2 eth0\n2 eth0 1 0 zz005e000001\n2 eth0 1 0 +1005e000001\nx eth0 1 0 01005e000001\n", 2));
    }
}
