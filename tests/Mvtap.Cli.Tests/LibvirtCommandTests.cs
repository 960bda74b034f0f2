// `mvtap libvirt NAME`: stdout is the <interface type='vhostuser'> element alone (well-formed,
// the endpoint's MAC and socket, mode='client' with <reconnect>, queues), everything the domain
// needs besides goes to stderr, and what cannot attach to a domain is refused as ip would.
using System.Xml.Linq;
using Mvtap.Cli;

namespace Mvtap.Cli.Tests;

public class LibvirtCommandTests
{
    [Fact]
    public void Stdout_is_only_the_interface_element_with_mac_socket_reconnect_and_queues()
    {
        var backend = new RecordingLinkBackend { Links = [SampleLinks.Macvtap0 with { VhostUserQueuePairs = 2 }] };
        var run = CliRun.Run(backend, "libvirt", "macvtap0", "accel", "kvm");
        Assert.Equal(0, run.Exit);
        var e = XElement.Parse(run.Stdout);
        Assert.Equal(("interface", "vhostuser"), (e.Name.LocalName, (string?)e.Attribute("type")));
        Assert.Equal("1a:46:0b:ca:bc:7b", (string?)e.Element("mac")?.Attribute("address"));
        var source = e.Element("source")!;
        Assert.Equal(("unix", "/run/mvtap/tap4.vhost", "client"),
            ((string?)source.Attribute("type"), (string?)source.Attribute("path"), (string?)source.Attribute("mode")));
        Assert.Equal(("yes", "2"), ((string?)source.Element("reconnect")?.Attribute("enabled"), (string?)source.Element("reconnect")?.Attribute("timeout")));
        Assert.Equal("virtio", (string?)e.Element("model")?.Attribute("type"));
        Assert.Equal("2", (string?)e.Element("driver")?.Attribute("queues"));
        Assert.Contains("<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>", run.Stderr);
        Assert.DoesNotContain("vectors=0", run.Stderr);
    }

    [Fact]
    public void Under_tcg_stderr_adds_the_vectors_workaround_and_reconnect_0_leaves_reconnect_out()
    {
        var backend = new RecordingLinkBackend { Links = [SampleLinks.Macvtap0 with { VhostUserQueuePairs = 2 }] };
        var run = CliRun.Run(backend, "libvirt", "macvtap0", "reconnect", "0", "accel", "tcg");
        Assert.Equal(0, run.Exit);
        var e = XElement.Parse(run.Stdout);
        Assert.Null(e.Element("source")!.Element("reconnect"));
        Assert.Contains("<qemu:arg value='virtio-net-pci.vectors=0'/>", run.Stderr);
        // libvirt's multiqueue vectors=2N+2 would override the workaround: one queue pair
        Assert.Null(e.Element("driver"));
        var asked = CliRun.Run(backend, "libvirt", "macvtap0", "queues", "2", "accel", "tcg");
        Assert.Equal("2", (string?)XElement.Parse(asked.Stdout).Element("driver")?.Attribute("queues"));
        Assert.Contains("vectors=6", asked.Stderr);
    }

    [Fact]
    public void A_socket_path_with_quotes_and_ampersands_stays_well_formed()
    {
        var odd = SampleLinks.Macvtap0 with { VhostUserPath = "/run/it's & <odd>/tap4.vhost" };
        var e = XElement.Parse(LibvirtCommand.Element(odd, "/run/mvtap", queues: 4, reconnectSeconds: 5));
        Assert.Equal("/run/it's & <odd>/tap4.vhost", (string?)e.Element("source")?.Attribute("path"));
        Assert.Equal("4", (string?)e.Element("driver")?.Attribute("queues"));
    }

    [Fact]
    public void A_macvlan_endpoint_or_a_missing_one_is_refused_and_bad_words_are_usage_errors()
    {
        var backend = new RecordingLinkBackend { Links = [SampleLinks.Macvtap0, SampleLinks.SourceMacvlan] };
        var macvlan = CliRun.Run(backend, "libvirt", "mv1");
        Assert.Equal((1, ""), (macvlan.Exit, macvlan.Stdout));
        Assert.Contains("not a macvtap endpoint", macvlan.Stderr);
        Assert.Equal(1, CliRun.Run(backend, "libvirt", "nosuch").Exit);
        Assert.Equal(2, CliRun.Run(backend, "libvirt", "macvtap0", "queues", "0").Exit);
        Assert.Equal(2, CliRun.Run(backend, "libvirt", "macvtap0", "reconnect", "soon").Exit);
        Assert.Equal(2, CliRun.Run(backend, "libvirt").Exit);
    }
}
