// The host port's words on the command line (issue 14): `type host` and `hostaccess on|off` become
// the control requests mvtapd expects, a bad hostaccess value is refused in ip's words, the --kernel
// backend refuses both (the kernel's macvlan has no host port), and `link show -d` prints the host
// port's kind and an endpoint's hostaccess off.
using System.Text.Json;
using Mvtap.Control;

namespace Mvtap.Cli.Tests;

public class HostPortGrammarTests
{
    [Theory]
    [InlineData("link add link eth1 name mvhost0 type host",
        """{"op":"link-add","lower":"eth1","name":"mvhost0","type":"host"}""")]
    [InlineData("link add link eth1 name mvhost0 type host address 1a:46:0b:ca:bc:70 up",
        """{"op":"link-add","lower":"eth1","name":"mvhost0","type":"host","address":"1a:46:0b:ca:bc:70","up":true}""")]
    [InlineData("link add link eth1 name m0 type macvlan mode vepa hostaccess off",
        """{"op":"link-add","lower":"eth1","name":"m0","type":"macvlan","mode":"vepa","host_access":false}""")]
    [InlineData("link set m0 hostaccess on",
        """{"op":"link-set","name":"m0","host_access":true}""")]
    public void Host_port_words_produce_their_requests(string commandLine, string expectedRequest)
    {
        var backend = new RecordingLinkBackend { Links = [SampleLinks.Macvtap0 with { Name = "m0" }, SampleLinks.Macvtap0 with { Name = "mvhost0" }] };
        var r = CliRun.Run(backend, commandLine.Split(' '));
        Assert.Equal("", r.Stderr);
        Assert.Equal(0, r.Exit);
        Assert.Equal(expectedRequest, CliRun.Json(Assert.Single(backend.Requests)));
    }

    [Fact]
    public void A_bad_hostaccess_value_is_refused_in_ips_words()
    {
        var backend = new RecordingLinkBackend();
        var r = CliRun.Run(backend, "link set m0 hostaccess maybe".Split(' '));
        Assert.Equal("Error: argument of \"hostaccess\" must be \"on\" or \"off\", not \"maybe\"\n", r.Stderr);
        Assert.Equal(2, r.Exit);
        Assert.Empty(backend.Requests);
    }

    [Fact]
    public void The_kernel_backend_has_no_host_port()
    {
        var backend = new KernelLinkBackend(TextWriter.Null);
        var e = Assert.Throws<LinkOperationException>(() => backend.Add(new LinkAddRequest { Lower = "lo", Name = "mvhost0", Type = "host" }));
        Assert.Contains("no host port", e.Message);
        var e2 = Assert.Throws<LinkOperationException>(() => backend.Add(new LinkAddRequest { Lower = "lo", Name = "m0", Type = "macvlan", HostAccess = false }));
        Assert.Contains("hostaccess", e2.Message);
    }

    [Fact]
    public void Link_show_details_name_the_host_ports_kind_and_hostaccess_off()
    {
        var host = SampleLinks.Macvtap0 with { Name = "mvhost0", Type = "host", Mode = "bridge", VhostUserPath = null, StreamPath = null, GuestMemory = null };
        var off = SampleLinks.Macvtap0 with { Name = "m0", HostAccess = false };
        string text = LinkTextPrinter.Format([host, off], details: true, statistics: 0);
        Assert.Contains("    mvtap-host bcqueuelen", text);
        Assert.Contains("hostaccess off", text);
        using var doc = JsonDocument.Parse(LinkJsonPrinter.Format([host, off], details: true, statistics: 0, pretty: false));
        Assert.Equal("mvtap-host", doc.RootElement[0].GetProperty("linkinfo").GetProperty("info_kind").GetString());
        Assert.False(doc.RootElement[1].GetProperty("mvtap").GetProperty("hostaccess").GetBoolean());
        Assert.False(doc.RootElement[0].GetProperty("mvtap").TryGetProperty("hostaccess", out _));
    }
}
