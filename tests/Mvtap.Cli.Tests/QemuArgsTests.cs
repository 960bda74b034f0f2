// `mvtap qemu NAME`: the QEMU fragments for vhost-user, stream and tap, with the endpoint's MAC.
using Mvtap.Cli;
using Mvtap.Control;

namespace Mvtap.Cli.Tests;

public class QemuArgsTests
{
    private const string Device = "-device virtio-net-pci,netdev=net0,mac=1a:46:0b:ca:bc:7b";

    [Fact]
    public void Vhost_user_fragment_has_shared_memory_chardev_and_mac()
    {
        Assert.Equal(
            "-m 1G -object memory-backend-memfd,id=mem,size=1G,share=on -numa node,memdev=mem " +
            "-chardev socket,id=chr0,path=/run/mvtap/tap4.vhost -netdev vhost-user,id=net0,chardev=chr0 " + Device,
            QemuArgs.Build(SampleLinks.Macvtap0, QemuAttachment.VhostUser, "1G", "/run/mvtap"));
    }

    [Fact]
    public void Stream_fragment_connects_to_the_stream_socket()
    {
        Assert.Equal(
            "-netdev stream,id=net0,server=off,addr.type=unix,addr.path=/run/mvtap/tap4.stream " + Device,
            QemuArgs.Build(SampleLinks.Macvtap0, QemuAttachment.Stream, "1G", "/run/mvtap"));
    }

    [Fact]
    public void Tap_fragment_uses_fd_3()
    {
        Assert.Equal("-netdev tap,id=net0,fd=3 " + Device,
            QemuArgs.Build(SampleLinks.Macvtap0, QemuAttachment.Tap, "1G", "/run/mvtap"));
    }

    [Fact]
    public void Paths_default_to_the_run_dir_and_index_and_are_quoted_when_needed()
    {
        var v = SampleLinks.Macvtap0 with { VhostUserPath = null, StreamPath = null, Index = 12 };
        Assert.Contains("path=/srv/run/tap12.vhost ", QemuArgs.Build(v, QemuAttachment.VhostUser, "2G", "/srv/run"));
        Assert.StartsWith("-netdev 'stream,id=net0,server=off,addr.type=unix,addr.path=/my dir,,x/tap12.stream' ",
            QemuArgs.Build(v, QemuAttachment.Stream, "1G", "/my dir,x"));
    }

    [Fact]
    public void Under_tcg_the_vhost_user_device_gets_legacy_interrupts_and_nothing_else_changes()
    {
        Assert.EndsWith(Device + ",vectors=0", QemuArgs.Build(SampleLinks.Macvtap0, QemuAttachment.VhostUser, "1G", "/run/mvtap", QemuAccel.Tcg));
        Assert.EndsWith(Device, QemuArgs.Build(SampleLinks.Macvtap0, QemuAttachment.VhostUser, "1G", "/run/mvtap", QemuAccel.Kvm));
        Assert.EndsWith(Device, QemuArgs.Build(SampleLinks.Macvtap0, QemuAttachment.Stream, "1G", "/run/mvtap", QemuAccel.Tcg));
        Assert.EndsWith(Device, QemuArgs.Build(SampleLinks.Macvtap0, QemuAttachment.Tap, "1G", "/run/mvtap", QemuAccel.Tcg));
    }

    [Fact]
    public void Cli_says_why_it_added_vectors_0_on_stderr_only()
    {
        var backend = new RecordingLinkBackend { Links = [SampleLinks.Macvtap0] };
        var tcg = CliRun.Run(backend, "qemu", "macvtap0", "accel", "tcg");
        Assert.Equal(0, tcg.Exit);
        Assert.EndsWith("mac=1a:46:0b:ca:bc:7b,vectors=0\n", tcg.Stdout);
        Assert.Equal(QemuArgs.TcgVectorsNote + "\n", tcg.Stderr);
        var kvm = CliRun.Run(backend, "qemu", "macvtap0", "accel", "kvm");
        Assert.EndsWith("mac=1a:46:0b:ca:bc:7b\n", kvm.Stdout);
        Assert.Equal("", kvm.Stderr);
        var stream = CliRun.Run(backend, "qemu", "macvtap0", "stream", "accel", "tcg");
        Assert.Equal("", stream.Stderr);
    }

    [Fact]
    public void Without_accel_the_machine_decides_tcg_when_dev_kvm_is_missing()
    {
        var r = CliRun.Run(new RecordingLinkBackend { Links = [SampleLinks.Macvtap0] }, "qemu", "macvtap0");
        Assert.Equal(0, r.Exit);
        Assert.Equal(!File.Exists("/dev/kvm"), r.Stdout.EndsWith(",vectors=0\n"));
    }

    [Fact]
    public void Bad_accel_is_a_usage_error()
    {
        var r = CliRun.Run(new RecordingLinkBackend { Links = [SampleLinks.Macvtap0] }, "qemu", "macvtap0", "accel", "hvf");
        Assert.NotEqual(0, r.Exit);
        Assert.Contains("Invalid \"accel\" value (kvm or tcg)", r.Stderr);
    }

    [Theory]
    [InlineData("qemu macvtap0 accel kvm", "-m 1G -object memory-backend-memfd,id=mem,size=1G,share=on")]
    [InlineData("qemu dev macvtap0 vhost-user memory 4G accel kvm", "-m 4G -object memory-backend-memfd,id=mem,size=4G,share=on")]
    [InlineData("q macvtap0 s", "-netdev stream,id=net0")]
    [InlineData("qemu macvtap0 stream", "-netdev stream,id=net0")]
    [InlineData("qemu macvtap0 tap", "-netdev tap,id=net0,fd=3 ")]
    public void Cli_prints_the_fragment(string commandLine, string expectedStart)
    {
        var backend = new RecordingLinkBackend { Links = [SampleLinks.Macvtap0] };
        var r = CliRun.Run(backend, commandLine.Split(' '));
        Assert.Equal(0, r.Exit);
        Assert.StartsWith(expectedStart, r.Stdout);
        Assert.EndsWith("mac=1a:46:0b:ca:bc:7b\n", r.Stdout);
    }

    [Fact]
    public void Tap_fragment_tells_how_to_run_qemu()
    {
        var r = CliRun.Run(new RecordingLinkBackend { Links = [SampleLinks.Macvtap0] }, "qemu", "macvtap0", "tap");
        Assert.Contains("mvtap run macvtap0 -- qemu-system-x86_64", r.Stderr);
    }

    [Fact]
    public void Macvlan_and_missing_endpoints_are_refused_with_exit_1()
    {
        var backend = new RecordingLinkBackend { Links = [SampleLinks.Macvtap0, SampleLinks.SourceMacvlan] };
        var r = CliRun.Run(backend, "qemu", "mv1");
        Assert.Equal(1, r.Exit);
        Assert.Equal("Error: mv1 is a macvlan link, not a macvtap endpoint; only macvtap endpoints attach to QEMU.\n", r.Stderr);
        r = CliRun.Run(backend, "qemu", "nosuch");
        Assert.Equal(1, r.Exit);
        Assert.Equal("Device \"nosuch\" does not exist.\n", r.Stderr);
    }

    [Fact]
    public void Qemu_help_prints_usage()
    {
        var r = CliRun.Run(new RecordingLinkBackend(), "qemu", "help");
        Assert.Equal(0, r.Exit);
        Assert.StartsWith("Usage: mvtap qemu", r.Stdout);
    }
}
