// `tap TAPNAME` on `mvtap link add`: a macvtap endpoint carried by a persistent TAP, in the
// namespace `netns` names, for `owner`/`group`; the exact request it sends, the refusals (on
// `link set`, twice, without a name), and how `-d link show` prints the TAP and its state.
using System.Text.Json;
using Mvtap.Cli;

namespace Mvtap.Cli.Tests;

public class TapCarrierCommandTests
{
    [Fact]
    public void Link_add_with_tap_netns_owner_and_group_sends_them_in_one_request()
    {
        var backend = new RecordingLinkBackend();
        var r = CliRun.Run(backend, "link add link eth1 name vm0 type macvtap tap net1 netns pod owner 107 group 107 up".Split(' '));
        Assert.Equal(("", 0), (r.Stderr, r.Exit));
        Assert.Equal("""{"op":"link-add","lower":"eth1","name":"vm0","type":"macvtap","owner":"107","group":"107","netns":"pod","up":true,"tap_name":"net1"}""",
            CliRun.Json(Assert.Single(backend.Requests)));
    }

    [Theory]
    [InlineData("link set vm0 tap net2", "Error: argument \"net2\" is wrong: the tap of an endpoint cannot be changed")]
    [InlineData("link add link eth1 name vm0 type macvtap tap a tap b", "Error: duplicate \"tap\": \"b\" is the second value.")]
    [InlineData("link add link eth1 name vm0 type macvtap tap", "Command line is not complete. Try option \"help\"")]
    public void Bad_tap_words_exit_2(string commandLine, string error)
    {
        var backend = new RecordingLinkBackend { Links = [SampleLinks.Macvtap0 with { Name = "vm0" }] };
        var r = CliRun.Run(backend, commandLine.Split(' '));
        Assert.Equal(2, r.Exit);
        Assert.Contains(error, r.Stderr);
        Assert.Empty(backend.Requests);
    }

    [Fact]
    public void Details_print_the_tap_and_whether_a_guest_holds_it()
    {
        var view = SampleLinks.Macvtap0 with { Tap = "net1", TapState = "no-guest", Netns = "pod" };
        Assert.Contains("    tap net1 no-guest \n", LinkTextPrinter.Format([view], details: true, statistics: 0));
        Assert.DoesNotContain("tap net1", LinkTextPrinter.Format([view], details: false, statistics: 0));
        using var doc = JsonDocument.Parse(LinkJsonPrinter.Format([view with { TapState = "guest" }], details: true, statistics: 0, pretty: false));
        var tap = doc.RootElement[0].GetProperty("mvtap").GetProperty("tap");
        Assert.Equal(("net1", "guest"), (tap.GetProperty("name").GetString(), tap.GetProperty("state").GetString()));
    }
}
