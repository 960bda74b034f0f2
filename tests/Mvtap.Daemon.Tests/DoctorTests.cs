// `mvtap doctor`: on this host it exits 0 with the warnings this host's facts call for (read here
// independently of doctor: is systemd init, does /dev/net/tun exist, is the lower promiscuous ...);
// a read-only state directory is an error (exit 1); and each check's failing path, reached by
// pointing that check at a path, device, namespace or socket family the test controls.
using System.Text.Json;
using Mvtap.Cli;
using Mvtap.Cli.Demo;
using Mvtap.Cli.Doctor;
using Mvtap.Linux.Interop;

namespace Mvtap.Daemon.Tests;

public sealed class DoctorTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("mvtap-doctor-").FullName;
    private readonly string _netns = $"mvdoc{Environment.ProcessId % 10000}{Random.Shared.Next(1000):d3}";

    public DoctorTests()
    {
        Shell.Ip("netns", "add", _netns);
        Shell.Ip("-n", _netns, "link", "add", "low0", "type", "veth", "peer", "name", "ext0");
        Shell.Ip("-n", _netns, "link", "set", "low0", "up");
        Shell.Ip("-n", _netns, "link", "set", "ext0", "up");
    }

    private string StateDir => Path.Combine(_root, "state");
    private string RunDir => Path.Combine(_root, "run");

    private static (int Status, string Out) Cli(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int status = MvtapCli.Run(args, o, e);
        Assert.True(e.ToString().Length == 0, e.ToString());
        return (status, o.ToString());
    }

    private static Dictionary<string, (string Status, string Detail)> Parse(string json) =>
        JsonDocument.Parse(json).RootElement.EnumerateArray().ToDictionary(
            f => f.GetProperty("check").GetString()!,
            f => (f.GetProperty("status").GetString()!, f.GetProperty("detail").GetString()!));

    private DoctorSettings Settings => new() { RunDir = RunDir, StateDir = StateDir, SocketGroup = "root", Netns = _netns, Lowers = ["low0"] };

    private DoctorFinding Only(DoctorSettings s, string check) => DoctorCommand.Check(s).Single(f => f.Check == check);

    [Fact]
    public void OnThisHostDoctorExitsZeroWithExactlyTheWarningsThisHostsFactsCallFor()
    {
        using var d = new MvtapdProcess(RunDir, StateDir, "--netns", _netns);
        d.StartAndWait();
        var add = d.Cli("link", "add", "link", "low0", "name", "m0", "type", "macvtap");
        Assert.True(add.Status == 0, add.Err);

        var (status, output) = Cli("--run-dir", RunDir, "-j", "doctor", "state-dir", StateDir, "socket-group", "root", "netns", _netns);
        var findings = Parse(output);

        // the facts, read here without doctor's code
        bool systemdInit = Directory.Exists("/run/systemd/system");
        string unit = DoctorSettings.DefaultUnitPath;
        bool watchdog = File.Exists(unit) && File.ReadAllText(unit).Contains("WatchdogSec=", StringComparison.Ordinal);
        var (_, ipOut) = Shell.Run("ip", "-n", _netns, "-j", "link", "show", "low0");
        bool handPromisc = JsonDocument.Parse(ipOut).RootElement[0].GetProperty("flags").EnumerateArray().Any(f => f.GetString() == "PROMISC");
        bool lowFree = new DriveInfo(StateDir).TotalFreeSpace < (64L << 20);
        var expectedWarnings = new SortedSet<string>();
        if (!(systemdInit && watchdog)) expectedWarnings.Add("systemd");
        if (!File.Exists("/dev/net/tun")) expectedWarnings.Add("tun");
        if (handPromisc) expectedWarnings.Add("lower low0");
        if (lowFree) expectedWarnings.Add("free_space");

        Assert.Equal(0, status);
        Assert.Equal(expectedWarnings, new SortedSet<string>(findings.Where(f => f.Value.Status == "WARN").Select(f => f.Key)));
        Assert.DoesNotContain(findings, f => f.Value.Status == "ERROR");
        foreach (var check in new[] { "af_packet", "tun", "memfd_seal", "socket_group", "state_dir", "free_space", "systemd", "mvtapd", "lower low0", "offloads low0", "kernel_macvlan low0" })
            Assert.True(findings.ContainsKey(check), $"no {check} in {output}");
        Assert.Contains("1 endpoint(s) on 1 lower(s)", findings["mvtapd"].Detail);

        // the text form: one line per check, its word first, and the count
        var (textStatus, text) = Cli("--run-dir", RunDir, "doctor", "state-dir", StateDir, "socket-group", "root", "netns", _netns);
        Assert.Equal(0, textStatus);
        var lines = text.TrimEnd('\n').Split('\n');
        Assert.Equal(findings.Count + 1, lines.Length);
        Assert.All(lines[..^1], l => Assert.Matches("^(OK|WARN|ERROR) ", l));
        Assert.Equal($"{findings.Count} checks: 0 errors, {expectedWarnings.Count} warning{(expectedWarnings.Count == 1 ? "" : "s")}", lines[^1]);
    }

    [Fact]
    public void StateDirectoryOnAReadOnlyMountIsAnErrorAndDoctorExitsOne()
    {
        using var mount = StateDirMount.Bind(StateDir);
        mount.MakeReadOnly();
        var (status, text) = Cli("--run-dir", RunDir, "doctor", "state-dir", StateDir, "socket-group", "root");
        Assert.Equal(1, status);
        Assert.Contains($"ERROR state_dir", text);
        Assert.Contains($"{StateDir} is on a read-only file system: mvtapd cannot save endpoints", text);
    }

    [Fact]
    public void StateDirectoryWritableByOthersIsAnError()
    {
        Directory.CreateDirectory(StateDir);
        File.SetUnixFileMode(StateDir, (UnixFileMode)Convert.ToInt32("777", 8));
        var f = Only(Settings, "state_dir");
        Assert.Equal(Severity.Error, f.Severity);
        Assert.Contains("writable by everyone", f.Detail);
    }

    [Fact]
    public void StateDirectoryOnAFileSystemWithoutRoomIsAnError()
    {
        using var mount = StateDirMount.SmallTmpfs(StateDir, kib: 64);
        var f = Only(Settings, "free_space");
        Assert.Equal(Severity.Error, f.Severity);
        Assert.Contains("the next save of state.json may not fit", f.Detail);
    }

    [Fact]
    public void APacketSocketThatCannotBeOpenedIsAnError()
    {
        // AF_MAX (46 on 6.18): a family the kernel has not got, as a kernel without CONFIG_PACKET has not AF_PACKET
        var f = Only(Settings with { PacketFamily = 46 }, "af_packet");
        Assert.Equal(Severity.Error, f.Severity);
        Assert.Contains("cannot open an AF_PACKET socket", f.Detail);
    }

    [Fact]
    public void AMissingTunDeviceIsAWarning()
    {
        var f = Only(Settings with { TunDevice = Path.Combine(_root, "no-tun") }, "tun");
        Assert.Equal(Severity.Warn, f.Severity);
        Assert.Contains("`mvtap run` and tap attachments will not work", f.Detail);
    }

    [Fact]
    public void AFileThatCannotBeSealedIsAWarning()
    {
        string plain = Path.Combine(_root, "plain");
        File.WriteAllText(plain, "x");
        var f = Only(Settings with { SealProbe = plain }, "memfd_seal");
        Assert.Equal(Severity.Warn, f.Severity);
        Assert.Contains("guestmem sealed (the default) will refuse", f.Detail);
    }

    [Fact]
    public void ASocketGroupThatDoesNotExistIsAnError()
    {
        var f = Only(Settings with { SocketGroup = "mvtap-no-such-group" }, "socket_group");
        Assert.Equal(Severity.Error, f.Severity);
        Assert.Contains("refuses to start", f.Detail);
    }

    [Fact]
    public void NoSystemdOrAUnitWithoutWatchdogIsAWarning()
    {
        var none = Only(Settings with { SystemdRunDir = Path.Combine(_root, "no-systemd") }, "systemd");
        Assert.Equal(Severity.Warn, none.Severity);
        Assert.Contains("systemd is not the init system", none.Detail);

        string unit = Path.Combine(_root, "mvtapd.service");
        File.WriteAllText(unit, "[Service]\nType=notify\nExecStart=/usr/local/bin/mvtapd --socket-group root\n");
        var noWatchdog = Only(Settings with { SystemdRunDir = _root, UnitPath = unit }, "systemd");
        Assert.Equal(Severity.Warn, noWatchdog.Severity);
        Assert.Contains("sets no WatchdogSec=", noWatchdog.Detail);

        File.AppendAllText(unit, "WatchdogSec=60\n");
        Assert.Equal(Severity.Ok, Only(Settings with { SystemdRunDir = _root, UnitPath = unit }, "systemd").Severity);
    }

    [Fact]
    public void ADaemonThatDoesNotAnswerIsAWarningAndItsLowersAreNotAsked()
    {
        var f = Only(Settings with { Lowers = [] }, "mvtapd");
        Assert.Equal(Severity.Warn, f.Severity);
        Assert.Contains("its lowers were not checked", f.Detail);
        Assert.DoesNotContain(DoctorCommand.Check(Settings with { Lowers = [] }), x => x.Check.StartsWith("lower", StringComparison.Ordinal));
    }

    [Fact]
    public void AMissingLowerIsAnErrorAndADownOrHandPromiscuousOneAWarning()
    {
        var missing = Only(Settings with { Lowers = ["nolow0"] }, "lower nolow0");
        Assert.Equal(Severity.Error, missing.Severity);

        Shell.Ip("-n", _netns, "link", "set", "low0", "promisc", "on");
        var promisc = Only(Settings, "lower low0");
        Assert.Equal(Severity.Warn, promisc.Severity);
        Assert.Contains("set promiscuous by hand", promisc.Detail);

        Shell.Ip("-n", _netns, "link", "set", "low0", "down");
        var down = Only(Settings, "lower low0");
        Assert.Equal(Severity.Warn, down.Severity);
        Assert.Contains("is down", down.Detail);
    }

    [Fact]
    public void ALowerWithoutTsoIsAWarning()
    {
        Assert.Equal(Severity.Ok, Only(Settings, "offloads low0").Severity);
        Mvtap.Linux.NetNamespace.Run(_netns, () => Ethtool.Set("low0", Ethtool.ETHTOOL_STSO, 0));
        var f = Only(Settings, "offloads low0");
        Assert.Equal(Severity.Warn, f.Severity);
        Assert.Contains("tcp-segmentation-offload off", f.Detail);
    }

    [Fact]
    public void AKernelMacvlanOnTheSameLowerIsAnError()
    {
        Shell.Ip("-n", _netns, "link", "add", "kmv0", "link", "low0", "type", "macvtap");
        var f = Only(Settings, "kernel_macvlan low0");
        Assert.Equal(Severity.Error, f.Severity);
        Assert.Contains("kmv0 (macvtap)", f.Detail);
    }

    public void Dispose()
    {
        Shell.Run("ip", "netns", "del", _netns);
        Shell.Run("umount", "-l", StateDir);
        Directory.Delete(_root, recursive: true);
    }
}
