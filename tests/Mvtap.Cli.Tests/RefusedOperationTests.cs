// Operations the daemon refuses, over a real socket to a fake mvtapd: the CLI prints ip's
// netlink error shape ("Error: <message>." or "RTNETLINK answers: <strerror>") and exits 1.
using Mvtap.Cli;
using Mvtap.Control;

namespace Mvtap.Cli.Tests;

public class RefusedOperationTests
{
    private static CliResult RunAgainst(FakeControlServer server, params string[] args) =>
        CliRun.Run(new DaemonLinkBackend(new ControlClient(server.SocketPath, TimeSpan.FromSeconds(5))), args);

    public static TheoryData<string, int, string, string> Refusals => new()
    {
        { "link add link eth1 name m0 type macvtap", 17, "link m0 already exists", "Error: link m0 already exists." },
        { "link add link eth9 name m1 type macvtap", 19, "Cannot find device \"eth9\"", "Error: Cannot find device \"eth9\"." },
        { "link set macvtap0 address 1a:46:0b:ca:bc:7b up", 98, "address 1a:46:0b:ca:bc:7b is in use by macvtap1",
            "Error: address 1a:46:0b:ca:bc:7b is in use by macvtap1." },
        { "link set m0 up", 98, "", "RTNETLINK answers: Address already in use" },
        { "link set m0 mode passthru", 22, "", "RTNETLINK answers: Invalid argument" },
        { "link del nosuch", 19, "Cannot find device \"nosuch\".", "Error: Cannot find device \"nosuch\"." },
        { "link show nosuch", 19, "Device \"nosuch\" does not exist", "Error: Device \"nosuch\" does not exist." },
        { "link set m0 up", 4242, "", "RTNETLINK answers: Unknown error 4242" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void Refused_operation_prints_the_conflict_and_exits_1(string commandLine, int errno, string message, string expected)
    {
        using var server = new FakeControlServer { Handler = _ => ControlResponse.Failure(errno, message) };
        var r = RunAgainst(server, commandLine.Split(' '));
        Assert.Equal(expected + "\n", r.Stderr);
        Assert.Equal(1, r.Exit);
        Assert.Equal("", r.Stdout);
        Assert.Single(server.Received);
    }

    [Fact]
    public void Successful_add_sends_the_parsed_request()
    {
        using var server = new FakeControlServer();
        var r = RunAgainst(server, "l", "a", "link", "eth1", "name", "m0", "type", "macvtap");
        Assert.Equal(0, r.Exit);
        Assert.Equal("", r.Stderr + r.Stdout);
        Assert.Equal("""{"op":"link-add","lower":"eth1","name":"m0","type":"macvtap"}""", CliRun.Json(Assert.Single(server.Received)));
    }

    [Fact]
    public void Show_prints_what_the_daemon_returns()
    {
        using var server = new FakeControlServer { Handler = _ => ControlResponse.Success([SampleLinks.Macvtap0]) };
        var r = RunAgainst(server, "link", "show", "macvtap0");
        Assert.Equal(0, r.Exit);
        Assert.StartsWith("4: macvtap0@eth1: <BROADCAST,MULTICAST,UP,LOWER_UP>", r.Stdout);
    }

    [Fact]
    public void No_daemon_exits_1_with_the_socket_path()
    {
        var r = CliRun.Run(new DaemonLinkBackend(new ControlClient("/nonexistent-mvtap/mvtapd.sock")), "link", "show");
        Assert.Equal(1, r.Exit);
        Assert.StartsWith("Cannot connect to mvtapd at /nonexistent-mvtap/mvtapd.sock: ", r.Stderr);
    }

    [Fact]
    public void The_real_entry_point_uses_the_run_dir_socket()
    {
        using var server = new FakeControlServer { Handler = _ => ControlResponse.Success([SampleLinks.Macvtap0]) };
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = MvtapCli.Run(["--run-dir", server.RunDir, "-j", "link", "show"], stdout, stderr);
        Assert.Equal("", stderr.ToString());
        Assert.Equal(0, exit);
        Assert.StartsWith("""[{"ifindex":4,"link":"eth1","ifname":"macvtap0",""", stdout.ToString());
    }

    [Fact]
    public void Kernel_option_carries_link_commands_out_on_the_kernel()
    {
        // read-only on the host: a show of a name that does not exist
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = MvtapCli.Run(["--kernel", "link", "show", "mvtap-nosuch0"], stdout, stderr);
        Assert.Equal(1, exit);
        Assert.Equal("Error: Device \"mvtap-nosuch0\" does not exist.\n", stderr.ToString());
    }
}
