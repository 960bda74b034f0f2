// mvtapd as a process: the configuration survives SIGTERM and SIGKILL; a corrupt state file
// stops it from starting and is kept; bad control requests get errors while it goes on; a
// client without permission is refused.
using System.Buffers.Binary;
using System.Text;
using Mvtap.Control;
using Mvtap.Core.Model;

namespace Mvtap.Daemon.Tests;

public sealed class DaemonLifecycleTests : IDisposable
{
    private const int SIGTERM = 15, SIGKILL = 9;
    private readonly string _root = Directory.CreateTempSubdirectory("mvtapd-life-").FullName;
    private string RunDir => Path.Combine(_root, "run");
    private string StateDir => Path.Combine(_root, "state");

    public DaemonLifecycleTests() => File.SetUnixFileMode(_root, (UnixFileMode)0b111_101_101);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static string ShowJson(MvtapdProcess d)
    {
        var (status, output, err) = d.Cli("-j", "-d", "link", "show");
        Assert.True(status == 0, err);
        return output;
    }

    [Fact]
    public void Endpoints_come_back_after_sigterm_and_after_sigkill()
    {
        using var d = new MvtapdProcess(RunDir, StateDir);
        d.StartAndWait();
        Assert.Equal(0, d.Cli("link", "add", "link", "sim0", "name", "macvtap0", "type", "macvtap", "mode", "bridge").Status);
        Assert.Equal(0, d.Cli("link", "set", "macvtap0", "address", "1a:46:0b:ca:bc:7b", "up").Status);
        Assert.Equal(0, d.Cli("l", "a", "link", "sim0", "name", "src0", "type", "macvlan", "mode", "source", "nodst", "macaddr", "add", "02:00:00:00:00:aa").Status);
        var before = ShowJson(d);
        Assert.Contains("\"ifname\":\"macvtap0\"", before.Replace(" ", ""));

        d.Signal(SIGTERM);
        Assert.Equal(0, d.WaitForExit());
        Assert.False(File.Exists(d.SocketPath), "a clean stop removes the control socket");
        d.StartAndWait();
        Assert.Equal(before, ShowJson(d));

        d.Signal(SIGKILL);
        d.WaitForExit();
        d.StartAndWait();
        Assert.Equal(before, ShowJson(d));
    }

    [Theory]
    [InlineData("{\"version\":1,\"next_index\":2,\"endpoints\":[{\"index\":1,\"name\":\"m")]
    [InlineData("\u0000\u0000garbage")]
    [InlineData("{\"version\":1,\"next_index\":3,\"endpoints\":[{\"index\":2,\"name\":\"a\",\"lower\":\"sim0\"},{\"index\":2,\"name\":\"b\",\"lower\":\"sim0\"}]}")]
    [InlineData("{\"version\":1,\"endpoints\":[{\"index\":2147483647,\"name\":\"a\",\"lower\":\"sim0\"}]}")]
    public void A_corrupt_state_file_stops_mvtapd_with_a_clear_message_and_is_kept(string content)
    {
        Directory.CreateDirectory(StateDir);
        var path = Path.Combine(StateDir, "state.json");
        File.WriteAllText(path, content);
        using var d = new MvtapdProcess(RunDir, StateDir);
        d.Start();
        Assert.Equal(1, d.WaitForExit());
        Assert.Contains($"{path} is corrupt", d.Output);
        Assert.Equal(content, File.ReadAllText(path));
    }

    [Fact]
    public void Malformed_and_oversized_requests_get_errors_and_the_daemon_goes_on()
    {
        using var d = new MvtapdProcess(RunDir, StateDir);
        d.StartAndWait();
        var garbage = ControlCodec.DecodeResponse(RawControl.Exchange(d.SocketPath, RawControl.Frame(Encoding.UTF8.GetBytes("{\"op\":\"link-add\",\"lower\":"))));
        Assert.False(garbage.Ok);
        Assert.Equal((int)Errno.EINVAL, garbage.Error!.Errno);
        var unknownOp = ControlCodec.DecodeResponse(RawControl.Exchange(d.SocketPath, RawControl.Frame(Encoding.UTF8.GetBytes("{\"op\":\"reboot\"}"))));
        Assert.False(unknownOp.Ok);
        var header = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(header, 64u << 20);
        var oversized = ControlCodec.DecodeResponse(RawControl.Exchange(d.SocketPath, header));
        Assert.False(oversized.Ok);
        Assert.Contains("exceeds the maximum", oversized.Error!.Message);
        Assert.Equal(0, d.Cli("link", "add", "link", "sim0", "type", "macvtap").Status);
        Assert.Contains("macvtap0", d.Cli("link", "show").Out);
    }

    [Fact]
    public void A_client_without_permission_is_refused_and_the_socket_group_admits()
    {
        using var nobody = new NobodyCli();
        using (var d = new MvtapdProcess(RunDir, StateDir))
        {
            d.StartAndWait();
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite, File.GetUnixFileMode(d.SocketPath));
            var (status, err) = nobody.Run(RunDir, "link", "show");
            Assert.Equal(1, status);
            Assert.Contains("Permission denied", err);
        }
        using (var d = new MvtapdProcess(RunDir, StateDir, "--socket-group", "65534"))
        {
            d.StartAndWait();
            var (status, err) = nobody.Run(RunDir, "link", "show");
            Assert.True(status == 0, err);
        }
    }
}
