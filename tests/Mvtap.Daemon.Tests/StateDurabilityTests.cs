// Every change mvtapd acknowledges is in state.json, and a change it cannot save is refused whole:
// on a full state directory (a small tmpfs filled to the last byte) and on a read-only one (a
// read-only bind mount), link add/set/del answer with the cause and exit 1, `link show` is as it
// was, no temporary file is left behind, and a restart brings back exactly what was acknowledged.
// Once the disk has room again the same changes go through and survive a restart.
using Mvtap.Cli.Demo;

namespace Mvtap.Daemon.Tests;

public sealed class StateDurabilityTests : IDisposable
{
    private const int SIGTERM = 15;
    private readonly string _root = Directory.CreateTempSubdirectory("mvtapd-durable-").FullName;
    private string RunDir => Path.Combine(_root, "run");
    private string StateDir => Path.Combine(_root, "state");
    private string StatePath => Path.Combine(StateDir, "state.json");

    public void Dispose()
    {
        Shell.Run("umount", "-l", StateDir); // in case a test failed before its mount's Dispose
        Directory.Delete(_root, recursive: true);
    }

    // What a refused change must not touch: `link show` with every detail, before and after.
    private static string Shown(MvtapdProcess d)
    {
        var (status, output, err) = d.Cli("-j", "-d", "link", "show");
        Assert.True(status == 0, err);
        return output;
    }

    private static void Acknowledge(MvtapdProcess d, params string[] args)
    {
        var (status, _, err) = d.Cli(args);
        Assert.True(status == 0, $"{string.Join(' ', args)}: {err}");
    }

    // The changes tried while the state cannot be saved: an add (with and without up), a delete,
    // and sets of the port's values, of the name, of the source list, of the queue length and of guestmem.
    private static readonly string[][] Changes =
    [
        ["link", "add", "link", "sim0", "name", "new0", "type", "macvtap"],
        ["link", "add", "link", "sim0", "name", "new1", "type", "macvlan", "mode", "bridge", "up"],
        ["link", "set", "keep0", "address", "1a:46:0b:ca:bc:42", "mode", "private", "down", "mtu", "1400"],
        ["link", "set", "src0", "macaddr", "add", "02:00:00:00:00:bb"],
        ["link", "set", "src0", "mode", "vepa", "txqueuelen", "900"],
        ["link", "set", "src0", "name", "src9"],
        ["link", "set", "keep0", "guestmem", "any"],
        ["link", "add", "link", "sim0", "name", "new2", "type", "macvtap", "guestmem", "any"],
        ["link", "del", "keep0"],
    ];

    private string AcknowledgeSome(MvtapdProcess d)
    {
        Acknowledge(d, "link", "add", "link", "sim0", "name", "keep0", "type", "macvtap", "mode", "bridge", "address", "1a:46:0b:ca:bc:7b");
        Acknowledge(d, "link", "set", "keep0", "up");
        Acknowledge(d, "link", "add", "link", "sim0", "name", "src0", "type", "macvlan", "mode", "source", "macaddr", "add", "02:00:00:00:00:aa");
        return Shown(d);
    }

    private void EveryChangeIsRefusedWithTheCause(MvtapdProcess d, string acknowledged, string cause)
    {
        foreach (var change in Changes)
        {
            var (status, output, err) = d.Cli(change);
            Assert.True(status == 1, $"{string.Join(' ', change)} exited {status}: {output}{err}");
            Assert.Equal($"Error: cannot save {StatePath}: {cause}.", err.Trim());
            Assert.Equal(acknowledged, Shown(d));
            Assert.Equal(["state.json"], Directory.GetFiles(StateDir).Select(Path.GetFileName).Where(f => f != "filler"));
        }
    }

    private void EveryChangeGoesThroughAndSurvivesARestart(MvtapdProcess d)
    {
        foreach (var change in Changes) Acknowledge(d, change);
        var acknowledged = Shown(d);
        Assert.Contains("src9", acknowledged);
        Assert.DoesNotContain("keep0", acknowledged);
        d.Signal(SIGTERM);
        Assert.Equal(0, d.WaitForExit());
        d.StartAndWait();
        Assert.Equal(acknowledged, Shown(d));
    }

    [Fact]
    public void On_a_full_state_directory_changes_are_refused_whole_and_a_restart_shows_what_was_acknowledged()
    {
        using var mount = StateDirMount.SmallTmpfs(StateDir);
        using var d = new MvtapdProcess(RunDir, StateDir);
        d.StartAndWait();
        var acknowledged = AcknowledgeSome(d);
        mount.Fill();

        EveryChangeIsRefusedWithTheCause(d, acknowledged, "No space left on device");
        // logged too, at error level (the console logger writes on its own thread: the answer may come first)
        const string logged = "new1 (index 3) is not added after all: cannot save";
        Assert.Contains(logged, TestNet.WaitFor(() => d.Output, o => o.Contains(logged, StringComparison.Ordinal)));
        d.Signal(SIGTERM);
        Assert.Equal(0, d.WaitForExit());
        d.StartAndWait();
        Assert.Equal(acknowledged, Shown(d));

        mount.Free();
        EveryChangeGoesThroughAndSurvivesARestart(d);
    }

    [Fact]
    public void On_a_read_only_state_directory_changes_are_refused_whole_and_a_restart_shows_what_was_acknowledged()
    {
        using var mount = StateDirMount.Bind(StateDir);
        using var d = new MvtapdProcess(RunDir, StateDir);
        d.StartAndWait();
        var acknowledged = AcknowledgeSome(d);
        mount.MakeReadOnly();

        EveryChangeIsRefusedWithTheCause(d, acknowledged, "Read-only file system");
        d.Signal(SIGTERM);
        Assert.Equal(0, d.WaitForExit());
        d.StartAndWait();
        Assert.Equal(acknowledged, Shown(d));

        mount.MakeWritable();
        EveryChangeGoesThroughAndSurvivesARestart(d);
    }
}
