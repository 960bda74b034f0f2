// `-j` output: ip -j link's field names and order, with -d linkinfo and -s stats64.
using System.Text.Json;

namespace Mvtap.Cli.Tests;

public class LinkJsonPrinterTests
{
    [Fact]
    public void Json_details_follow_ip_field_names_and_order()
    {
        Assert.Equal(
            """[{"ifindex":4,"link":"eth1","ifname":"macvtap0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"]""" +
            ""","mtu":1500,"qdisc":"noqueue","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":500""" +
            ""","link_type":"ether","address":"1a:46:0b:ca:bc:7b","broadcast":"ff:ff:ff:ff:ff:ff","promiscuity":0""" +
            ""","allmulti":0,"min_mtu":68,"max_mtu":65535""" +
            ""","linkinfo":{"info_kind":"macvtap","info_data":{"mode":"vepa","bcqueuelen":1000,"usedbcqueuelen":1000}}""" +
            ""","mvtap":{"spoofchk":true,"guestmem":"sealed","vhost_user":"/run/mvtap/tap4.vhost","stream":"/run/mvtap/tap4.stream"}}]""" + "\n",
            LinkJsonPrinter.Format([SampleLinks.Macvtap0], details: true, statistics: 0, pretty: false));
    }

    [Fact]
    public void Json_without_details_is_the_short_form()
    {
        Assert.Equal(
            """[{"ifindex":4,"link":"eth1","ifname":"macvtap0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"]""" +
            ""","mtu":1500,"qdisc":"noqueue","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":500""" +
            ""","link_type":"ether","address":"1a:46:0b:ca:bc:7b","broadcast":"ff:ff:ff:ff:ff:ff"}]""" + "\n",
            LinkJsonPrinter.Format([SampleLinks.Macvtap0], details: false, statistics: 0, pretty: false));
    }

    [Fact]
    public void Json_source_macvlan_has_ip_info_data_keys()
    {
        using var doc = JsonDocument.Parse(LinkJsonPrinter.Format([SampleLinks.SourceMacvlan], true, 0, false));
        var link = doc.RootElement[0];
        Assert.Equal("ns1", link.GetProperty("link_netns").GetString());
        var data = link.GetProperty("linkinfo").GetProperty("info_data");
        Assert.Equal("""{"mode":"source","nodst":true,"bcqueuelen":7,"usedbcqueuelen":1000,"bclim":-1,"macaddr_count":2,"macaddr_data":["02:00:00:00:00:01","02:00:00:00:00:02"]}""",
            data.GetRawText());
        Assert.Equal("""{"spoofchk":false,"owner":"alice","group":"kvm"}""", link.GetProperty("mvtap").GetRawText());
    }

    [Fact]
    public void Json_statistics_use_ip_stats64_names_plus_drop_reasons()
    {
        var v = SampleLinks.Macvtap0 with
        {
            Statistics = new Mvtap.Control.LinkStatistics
            {
                RxBytes = 100, RxPackets = 2, RxMulticast = 1, TxBytes = 60, TxPackets = 1, TxDropped = 4,
                DropsByReason = new() { ["spoofed_source"] = 4 },
            },
        };
        using var doc = JsonDocument.Parse(LinkJsonPrinter.Format([v], false, 1, false));
        Assert.Equal(
            """{"rx":{"bytes":100,"packets":2,"errors":0,"dropped":0,"over_errors":0,"multicast":1}""" +
            ""","tx":{"bytes":60,"packets":1,"errors":0,"dropped":4,"carrier_errors":0,"collisions":0}""" +
            ""","drops_by_reason":{"spoofed_source":4}}""",
            doc.RootElement[0].GetProperty("stats64").GetRawText());
    }

    [Fact]
    public void Json_details_carry_the_lowers_and_the_datapaths_state_and_reason_and_statistics_the_lowers_drops()
    {
        var v = SampleLinks.Macvtap0 with
        {
            VhostUserPath = null, StreamPath = null,
            LowerState = "unreachable", LowerReason = "lower eth1 was moved to a network namespace mvtapd cannot reach",
            DatapathState = "running", DatapathRestarts = 1, DatapathReason = "restarted after a failure (InvalidOperationException: boom)",
            Statistics = new Mvtap.Control.LinkStatistics { LowerDropsByReason = new() { ["internal_error"] = 5 } },
        };
        using var doc = JsonDocument.Parse(LinkJsonPrinter.Format([v], true, 1, false));
        var link = doc.RootElement[0];
        Assert.Equal("""{"spoofchk":true,"guestmem":"sealed","lower":{"state":"unreachable","reason":"lower eth1 was moved to a network namespace mvtapd cannot reach"}""" +
            ""","datapath":{"state":"running","reason":"restarted after a failure (InvalidOperationException: boom)","restarts":1}}""",
            link.GetProperty("mvtap").GetRawText());
        Assert.Equal("""{"internal_error":5}""", link.GetProperty("stats64").GetProperty("lower_drops_by_reason").GetRawText());
    }

    [Fact]
    public void Pretty_json_is_indented_and_equivalent()
    {
        string pretty = LinkJsonPrinter.Format([SampleLinks.Macvtap0], true, 1, pretty: true);
        string compact = LinkJsonPrinter.Format([SampleLinks.Macvtap0], true, 1, pretty: false);
        Assert.Contains("\n  {\n    \"ifindex\": 4,", pretty);
        using var a = JsonDocument.Parse(pretty);
        using var b = JsonDocument.Parse(compact);
        Assert.Equal(b.RootElement.GetRawText(), JsonSerializer.Serialize(a.RootElement));
    }

    [Fact]
    public void Empty_list_is_an_empty_array()
    {
        Assert.Equal("[]\n", LinkJsonPrinter.Format([], true, 1, false));
    }

    [Fact]
    public void Cli_json_show_goes_through_the_json_printer()
    {
        var backend = new RecordingLinkBackend { Links = [SampleLinks.Macvtap0] };
        var r = CliRun.Run(backend, "-j", "-d", "link", "show", "macvtap0");
        Assert.Equal(0, r.Exit);
        using var doc = JsonDocument.Parse(r.Stdout);
        var link = doc.RootElement[0];
        Assert.Equal(4, link.GetProperty("ifindex").GetInt32());
        Assert.Equal("macvtap0", link.GetProperty("ifname").GetString());
        Assert.Equal("1a:46:0b:ca:bc:7b", link.GetProperty("address").GetString());
        Assert.Equal("UP", link.GetProperty("operstate").GetString());
        Assert.Equal("macvtap", link.GetProperty("linkinfo").GetProperty("info_kind").GetString());
        Assert.Equal("vepa", link.GetProperty("linkinfo").GetProperty("info_data").GetProperty("mode").GetString());
    }
}
