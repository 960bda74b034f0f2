// `mvtap cni install [DIR]`: the plugin built next to mvtap lands as DIR/mvtap, executable by
// everyone, replacing an older one by rename (a runtime exec'ing it meanwhile never sees half a
// file), with no temporary file left; without a built plugin it says how to get one.
using Mvtap.Cli;

namespace Mvtap.Cli.Tests;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class CniInstallTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mvtap-cni-install-").FullName;

    [Fact]
    public void The_plugin_is_installed_as_mvtap_executable_and_replaces_an_older_one()
    {
        string built = Path.Combine(_dir, "mvtap-cni"), target = Path.Combine(_dir, "bin");
        File.WriteAllText(built, "new plugin");
        Directory.CreateDirectory(target);
        File.WriteAllText(Path.Combine(target, "mvtap"), "old plugin");
        var o = new StringWriter();
        var e = new StringWriter();
        Assert.Equal(0, CniCommand.Run(["install", target], o, e, built));
        Assert.Equal("new plugin", File.ReadAllText(Path.Combine(target, "mvtap")));
        Assert.Equal((UnixFileMode)0x1ed, File.GetUnixFileMode(Path.Combine(target, "mvtap"))); // 0755
        Assert.Equal(["mvtap"], Directory.GetFiles(target).Select(Path.GetFileName));
        Assert.Contains(Path.Combine(target, "mvtap"), o.ToString());
    }

    [Fact]
    public void Without_a_built_plugin_it_fails_and_says_how_to_build_it()
    {
        var e = new StringWriter();
        Assert.Equal(1, CniCommand.Run(["install", _dir], new StringWriter(), e, Path.Combine(_dir, "absent")));
        Assert.Contains("./mvtap cni install", e.ToString());
        Assert.False(File.Exists(Path.Combine(_dir, "mvtap")));
    }

    [Fact]
    public void Other_words_are_usage_errors()
    {
        Assert.Equal(2, CliRun.Run(new RecordingLinkBackend(), "cni").Exit);
        Assert.Equal(2, CliRun.Run(new RecordingLinkBackend(), "cni", "uninstall").Exit);
        Assert.Equal(0, CliRun.Run(new RecordingLinkBackend(), "cni", "help").Exit);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
