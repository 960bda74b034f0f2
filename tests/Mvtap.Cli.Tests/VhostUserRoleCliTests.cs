// The vhost-user role from the command line: `link add ... vhost-user { listen [ PATH ] | connect
// PATH }` as the request it sends, its refusals in ip's words, how `link show -d` and `-j` show a
// dialling endpoint, and `mvtap libvirt` printing mode='server' without <reconnect> for it.
using System.Text.Json;
using System.Xml.Linq;
using Mvtap.Control;

namespace Mvtap.Cli.Tests;

public class VhostUserRoleCliTests
{
    private static readonly LinkView Dialling = SampleLinks.Macvtap0 with
    {
        VhostUserMode = VhostUserModes.Connect, VhostUserPath = "/var/lib/libvirt/qemu/vm1.sock", VhostUserConnected = false,
        VhostUserProblem = "no socket at /var/lib/libvirt/qemu/vm1.sock yet", Owner = "libvirt-qemu",
    };

    [Theory]
    [InlineData("link add link eth1 name m0 type macvtap vhost-user connect /run/q/vm.sock",
        """{"op":"link-add","lower":"eth1","name":"m0","type":"macvtap","vhost_user_path":"/run/q/vm.sock","vhost_user_mode":"connect"}""")]
    [InlineData("link add link eth1 vhost-user connect /run/q/vm.sock name m0 type macvtap up",
        """{"op":"link-add","lower":"eth1","name":"m0","type":"macvtap","up":true,"vhost_user_path":"/run/q/vm.sock","vhost_user_mode":"connect"}""")]
    [InlineData("link add link eth1 name m0 type macvtap vhost-user listen",
        """{"op":"link-add","lower":"eth1","name":"m0","type":"macvtap","vhost_user_mode":"listen"}""")]
    [InlineData("link add link eth1 name m0 type macvtap vhost-user listen /run/vu/m0.sock up",
        """{"op":"link-add","lower":"eth1","name":"m0","type":"macvtap","up":true,"vhost_user_path":"/run/vu/m0.sock","vhost_user_mode":"listen"}""")]
    public void Vhost_user_role_words_produce_the_request(string commandLine, string expected)
    {
        var backend = new RecordingLinkBackend { Links = [SampleLinks.Macvtap0 with { Name = "m0" }] };
        var r = CliRun.Run(backend, commandLine.Split(' '));
        Assert.Equal(("", 0), (r.Stderr, r.Exit));
        Assert.Equal(expected, CliRun.Json(Assert.Single(backend.Requests)));
    }

    [Theory]
    [InlineData("link add link eth1 name m0 type macvtap vhost-user dial /x", "Error: argument of \"vhost-user\" must be \"listen\" or \"connect\", not \"dial\"")]
    [InlineData("link add link eth1 name m0 type macvtap vhost-user connect", "Command line is not complete. Try option \"help\"")]
    [InlineData("link add link eth1 name m0 type macvtap vhost-user connect vm.sock", "Error: argument \"vm.sock\" is wrong: \"vhost-user connect\" takes an absolute socket path")]
    [InlineData("link add link eth1 name m0 type macvtap vhost-user connect /a vhost-user listen", "Error: duplicate \"vhost-user\": \"listen\" is the second value.")]
    [InlineData("link set m0 vhost-user connect /a", "Error: argument \"connect\" is wrong: the vhost-user role of an endpoint cannot be changed")]
    public void Bad_vhost_user_words_are_refused_in_ips_words_and_send_nothing(string commandLine, string message)
    {
        var backend = new RecordingLinkBackend { Links = [SampleLinks.Macvtap0 with { Name = "m0" }] };
        var r = CliRun.Run(backend, commandLine.Split(' '));
        Assert.NotEqual(0, r.Exit);
        Assert.Contains(message, r.Stderr);
        Assert.Empty(backend.Requests);
    }

    [Fact]
    public void Details_show_the_dialled_socket_its_state_and_why_it_is_not_connected()
    {
        var backend = new RecordingLinkBackend { Links = [Dialling] };
        var text = CliRun.Run(backend, "-d", "link", "show", "macvtap0").Stdout;
        Assert.Contains("    vhost-user connect /var/lib/libvirt/qemu/vm1.sock dialling stream /run/mvtap/tap4.stream \n", text);
        Assert.Contains("    vhost-user reason: no socket at /var/lib/libvirt/qemu/vm1.sock yet\n", text);

        backend = new RecordingLinkBackend { Links = [Dialling with { VhostUserConnected = true, VhostUserProblem = null }] };
        using var doc = JsonDocument.Parse(CliRun.Run(backend, "-j", "-d", "link", "show", "macvtap0").Stdout);
        var m = doc.RootElement[0].GetProperty("mvtap");
        Assert.Equal("/var/lib/libvirt/qemu/vm1.sock", m.GetProperty("vhost_user").GetString());
        Assert.Equal("connect", m.GetProperty("vhost_user_mode").GetString());
        Assert.True(m.GetProperty("vhost_user_connected").GetBoolean());
        Assert.False(m.TryGetProperty("vhost_user_reason", out _));
    }

    [Fact]
    public void Libvirt_prints_mode_server_without_reconnect_for_a_dialling_endpoint()
    {
        var backend = new RecordingLinkBackend { Links = [Dialling] };
        var run = CliRun.Run(backend, "libvirt", "macvtap0", "accel", "kvm");
        Assert.Equal(0, run.Exit);
        var source = XElement.Parse(run.Stdout).Element("source")!;
        Assert.Equal(("unix", "/var/lib/libvirt/qemu/vm1.sock", "server"),
            ((string?)source.Attribute("type"), (string?)source.Attribute("path"), (string?)source.Attribute("mode")));
        Assert.Null(source.Element("reconnect"));
        Assert.Contains("mvtapd dials it", run.Stderr);
        Assert.Contains("libvirt-qemu", run.Stderr);

        // the listening role keeps mode='client' with <reconnect>
        backend = new RecordingLinkBackend { Links = [SampleLinks.Macvtap0 with { VhostUserMode = VhostUserModes.Listen }] };
        var listen = XElement.Parse(CliRun.Run(backend, "libvirt", "macvtap0", "accel", "kvm").Stdout).Element("source")!;
        Assert.Equal("client", (string?)listen.Attribute("mode"));
        Assert.NotNull(listen.Element("reconnect"));
    }

    [Fact]
    public void Qemu_listens_on_the_socket_of_a_dialling_endpoint()
    {
        var args = QemuArgs.Build(Dialling, QemuAttachment.VhostUser, "1G", "/run/mvtap");
        Assert.Contains("-chardev socket,id=chr0,path=/var/lib/libvirt/qemu/vm1.sock,server=on,wait=off ", args);
        Assert.DoesNotContain("server=on", QemuArgs.Build(SampleLinks.Macvtap0, QemuAttachment.VhostUser, "1G", "/run/mvtap"));
    }
}
