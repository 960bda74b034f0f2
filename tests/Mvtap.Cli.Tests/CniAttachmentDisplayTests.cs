// `mvtap -d link show` of an endpoint the CNI plugin made: the attachment (network, container id,
// ifname) on its own line in text, under "mvtap" as "cni" in JSON; nothing without -d or for an
// endpoint made by hand.
using System.Text.Json;
using Mvtap.Cli;
using Mvtap.Control;

namespace Mvtap.Cli.Tests;

public class CniAttachmentDisplayTests
{
    private static readonly LinkView Made = SampleLinks.Macvtap0 with
    {
        Cni = new CniAttachment { ContainerId = "93df0453", IfName = "net1", Network = "vm-net" },
    };

    [Fact]
    public void Details_print_the_attachment_and_plain_output_does_not()
    {
        Assert.Contains("    cni network vm-net container 93df0453 ifname net1 \n", LinkTextPrinter.Format([Made], details: true, statistics: 0));
        Assert.DoesNotContain("cni", LinkTextPrinter.Format([Made], details: false, statistics: 0));
        Assert.DoesNotContain("cni network", LinkTextPrinter.Format([SampleLinks.Macvtap0], details: true, statistics: 0));
    }

    [Fact]
    public void Json_details_carry_the_attachment_under_mvtap()
    {
        using var doc = JsonDocument.Parse(LinkJsonPrinter.Format([Made], details: true, statistics: 0, pretty: false));
        var cni = doc.RootElement[0].GetProperty("mvtap").GetProperty("cni");
        Assert.Equal(("93df0453", "net1", "vm-net"),
            (cni.GetProperty("container_id").GetString(), cni.GetProperty("ifname").GetString(), cni.GetProperty("network").GetString()));
        using var plain = JsonDocument.Parse(LinkJsonPrinter.Format([SampleLinks.Macvtap0], details: true, statistics: 0, pretty: false));
        Assert.False(plain.RootElement[0].GetProperty("mvtap").TryGetProperty("cni", out _));
    }
}
