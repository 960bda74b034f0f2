// `link show` text output compared character for character with ip's layout (design.md and
// `ip -d/-s link show` on a real macvtap/macvlan, trailing spaces included).
using Mvtap.Control;

namespace Mvtap.Cli.Tests;

public class LinkTextPrinterTests
{
    private const string Line1 =
        "4: macvtap0@eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 500\n";

    [Fact]
    public void Plain_show_is_two_lines_like_ip()
    {
        Assert.Equal(Line1 + "    link/ether 1a:46:0b:ca:bc:7b brd ff:ff:ff:ff:ff:ff\n",
            LinkTextPrinter.Format([SampleLinks.Macvtap0], details: false, statistics: 0));
    }

    [Fact]
    public void Down_and_no_carrier_states_read_like_ip()
    {
        var down = SampleLinks.Macvtap0 with { AdminUp = false, OperState = "DOWN" };
        Assert.StartsWith("4: macvtap0@eth1: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN mode DEFAULT group default qlen 500\n",
            LinkTextPrinter.Format([down], false, 0));
        var noCarrier = SampleLinks.Macvtap0 with { Carrier = false, OperState = "LOWERLAYERDOWN" };
        Assert.StartsWith("4: macvtap0@eth1: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state LOWERLAYERDOWN mode",
            LinkTextPrinter.Format([noCarrier], false, 0));
        var promisc = SampleLinks.Macvtap0 with { Promiscuity = 1, Allmulti = 1 };
        Assert.StartsWith("4: macvtap0@eth1: <BROADCAST,MULTICAST,ALLMULTI,PROMISC,UP,LOWER_UP>",
            LinkTextPrinter.Format([promisc], false, 0));
    }

    [Fact]
    public void Details_add_ip_macvtap_line_and_mvtap_settings()
    {
        Assert.Equal(Line1 +
            "    link/ether 1a:46:0b:ca:bc:7b brd ff:ff:ff:ff:ff:ff promiscuity 0  allmulti 0 minmtu 68 maxmtu 65535 \n" +
            "    macvtap mode vepa bcqueuelen 1000 usedbcqueuelen 1000 spoofchk on guestmem sealed \n" +
            "    vhost-user /run/mvtap/tap4.vhost stream /run/mvtap/tap4.stream \n",
            LinkTextPrinter.Format([SampleLinks.Macvtap0], details: true, statistics: 0));
    }

    [Fact]
    public void Details_of_a_source_macvlan_show_flags_remotes_bclim_and_netns()
    {
        Assert.Equal(
            "7: mv1@eth1: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN mode DEFAULT group default qlen 1000\n" +
            "    link/ether 96:27:69:1d:2e:21 brd ff:ff:ff:ff:ff:ff link-netns ns1 promiscuity 0  allmulti 0 minmtu 68 maxmtu 65535 \n" +
            "    macvlan mode source nodst bcqueuelen 7 usedbcqueuelen 1000 bclim -1 remotes (2) 02:00:00:00:00:01 02:00:00:00:00:02 " +
            "spoofchk off owner alice group kvm \n",
            LinkTextPrinter.Format([SampleLinks.SourceMacvlan], details: true, statistics: 0));
    }

    [Fact]
    public void Details_say_where_mvtapds_lower_is_and_how_its_datapath_thread_fares_with_the_reasons()
    {
        var gone = SampleLinks.Macvtap0 with
        {
            AdminUp = true, Carrier = false, OperState = "LOWERLAYERDOWN", VhostUserPath = null, StreamPath = null,
            LowerState = "gone", LowerReason = "lower eth1 is gone",
            DatapathState = "restarting", DatapathRestarts = 2, DatapathReason = "failed (InvalidOperationException: boom); restarting in 4 s",
        };
        Assert.Equal(
            "4: macvtap0@eth1: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state LOWERLAYERDOWN mode DEFAULT group default qlen 500\n" +
            "    link/ether 1a:46:0b:ca:bc:7b brd ff:ff:ff:ff:ff:ff promiscuity 0  allmulti 0 minmtu 68 maxmtu 65535 \n" +
            "    macvtap mode vepa bcqueuelen 1000 usedbcqueuelen 1000 spoofchk on guestmem sealed \n" +
            "    lower gone datapath restarting restarts 2 \n" +
            "    lower reason: lower eth1 is gone\n" +
            "    datapath reason: failed (InvalidOperationException: boom); restarting in 4 s\n",
            LinkTextPrinter.Format([gone], details: true, statistics: 0));
        var moved = SampleLinks.Macvtap0 with { VhostUserPath = null, StreamPath = null, LowerState = "moved", LowerNetns = "ns2", DatapathState = "running" };
        Assert.EndsWith("    lower moved netns ns2 datapath running restarts 0 \n", LinkTextPrinter.Format([moved], details: true, statistics: 0));
    }

    [Fact]
    public void Statistics_add_the_lowers_drops_by_reason_after_the_endpoints()
    {
        var v = SampleLinks.Macvtap0 with
        {
            Statistics = new Mvtap.Control.LinkStatistics
            {
                DropsByReason = new() { ["no_carrier"] = 3 },
                LowerDropsByReason = new() { ["internal_error"] = 1, ["malformed"] = 2 },
            },
        };
        Assert.EndsWith("    drops: no_carrier 3\n    lower drops: internal_error 1 malformed 2\n",
            LinkTextPrinter.Format([v], details: false, statistics: 1));
    }

    [Fact]
    public void Statistics_table_matches_ip()
    {
        Assert.Equal(Line1 +
            "    link/ether 1a:46:0b:ca:bc:7b brd ff:ff:ff:ff:ff:ff\n" +
            "    RX:  bytes packets errors dropped  missed   mcast           \n" +
            "             0       0      0       0       0       0 \n" +
            "    TX:  bytes packets errors dropped carrier collsns           \n" +
            "             0       0      0       0       0       0 \n",
            LinkTextPrinter.Format([SampleLinks.Macvtap0], details: false, statistics: 1));
    }

    [Fact]
    public void Double_statistics_add_ip_error_rows()
    {
        string text = LinkTextPrinter.Format([SampleLinks.Macvtap0], details: false, statistics: 2);
        Assert.Contains(
            "             0       0      0       0       0       0 \n" +
            "    RX errors:  length    crc   frame    fifo overrun\n" +
            "                     0      0       0       0       0 \n" +
            "    TX:  bytes packets errors dropped carrier collsns           \n", text);
        Assert.Contains(
            "    TX errors: aborted   fifo  window heartbt transns\n" +
            "                     0      0       0       0       0 \n" +
            "    drops:       malformed bad_vnet_hdr spoofed_source endpoint_down no_carrier\n", text);
    }

    [Fact]
    public void Double_statistics_list_every_drop_reason_in_rows_of_five_under_ip_error_rows()
    {
        var v = SampleLinks.Macvtap0 with
        {
            Statistics = new LinkStatistics
            {
                DropsByReason = new() { ["spoofed_source"] = 12345678901234, ["queue_full"] = 2 },
                LowerDropsByReason = new() { ["reasm_overlap"] = 7, ["from_a_newer_mvtapd"] = 1 },
            },
        };
        string text = LinkTextPrinter.Format([v], details: false, statistics: 2);
        string drops = text[text.IndexOf("    drops:", StringComparison.Ordinal)..];
        Assert.Equal(
            "    drops:       malformed bad_vnet_hdr spoofed_source endpoint_down no_carrier\n" +
            "                         0            0 12345678901234             0          0 \n" +
            "                 mtu passthru_down nodst_consumed bc_queue_full queue_full\n" +
            "                   0             0              0             0          2 \n" +
            "                 endpoint_gone reasm_timeout reasm_overlap reasm_duplicate reasm_invalid\n" +
            "                             0             0             0               0             0 \n" +
            "                 reasm_oversize reasm_memory reasm_too_far attachment_error internal_error\n" +
            "                              0            0             0                0              0 \n" +
            "                 no_guest socket_overrun\n" +
            "                        0              0 \n" +
            "    lower drops: malformed bad_vnet_hdr spoofed_source endpoint_down no_carrier\n" +
            "                         0            0              0             0          0 \n" +
            "                 mtu passthru_down nodst_consumed bc_queue_full queue_full\n" +
            "                   0             0              0             0          0 \n" +
            "                 endpoint_gone reasm_timeout reasm_overlap reasm_duplicate reasm_invalid\n" +
            "                             0             0             7               0             0 \n" +
            "                 reasm_oversize reasm_memory reasm_too_far attachment_error internal_error\n" +
            "                              0            0             0                0              0 \n" +
            "                 no_guest socket_overrun from_a_newer_mvtapd\n" +
            "                        0              0                   1 \n", drops);
        Assert.DoesNotContain("drops: spoofed_source", text);
    }

    [Fact]
    public void Statistics_columns_widen_for_big_numbers_and_drops_are_listed()
    {
        var v = SampleLinks.Macvtap0 with
        {
            Statistics = new LinkStatistics
            {
                RxBytes = 123456789012, RxPackets = 12345678, RxMulticast = 5, TxBytes = 42, TxDropped = 3,
                DropsByReason = new() { ["spoofed_source"] = 3, ["no_destination"] = 9 },
            },
        };
        string text = LinkTextPrinter.Format([v], details: false, statistics: 1);
        Assert.EndsWith(
            "    RX:    bytes  packets errors dropped  missed   mcast           \n" +
            "    123456789012 12345678      0       0       0       5 \n" +
            "    TX:    bytes  packets errors dropped carrier collsns           \n" +
            "              42        0      0       3       0       0 \n" +
            "    drops: no_destination 9 spoofed_source 3\n", text);
    }

    [Fact]
    public void Several_links_are_printed_one_after_another()
    {
        string text = LinkTextPrinter.Format([SampleLinks.Macvtap0, SampleLinks.SourceMacvlan], false, 0);
        Assert.Equal(4, text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.StartsWith("7: mv1@eth1:", text.Split('\n')[2]);
    }
}
