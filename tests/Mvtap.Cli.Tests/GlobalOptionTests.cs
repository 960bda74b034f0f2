// Global options before the object, as ip takes them: prefixes, long forms, repetition,
// --run-dir / MVTAP_RUN_DIR resolution.
namespace Mvtap.Cli.Tests;

public class GlobalOptionTests
{
    [Theory]
    [InlineData("-j -d link show", true, true, 0, false)]
    [InlineData("-json -details link show", true, true, 0, false)]
    [InlineData("--json --details link show", true, true, 0, false)]
    [InlineData("-s link show", false, false, 1, false)]
    [InlineData("-statistics -stats link show", false, false, 2, false)]
    [InlineData("-s -s -d link show", false, true, 2, false)]
    [InlineData("-j -p link show", true, false, 0, true)]
    [InlineData("-j -pretty link show", true, false, 0, true)]
    [InlineData("-d -s -j link", true, true, 1, false)]
    public void Options_are_parsed_before_the_object(string commandLine, bool json, bool details, int stats, bool pretty)
    {
        var r = CliRun.Run(new RecordingLinkBackend(), commandLine.Split(' '));
        Assert.Equal(0, r.Exit);
        Assert.NotNull(r.Options);
        Assert.Equal(json, r.Options!.Json);
        Assert.Equal(details, r.Options.Details);
        Assert.Equal(stats, r.Options.Statistics);
        Assert.Equal(pretty, r.Options.Pretty);
    }

    [Fact]
    public void Kernel_option_is_recognised()
    {
        var r = CliRun.Run(new RecordingLinkBackend(), "-k", "link", "show");
        Assert.True(r.Options!.Kernel);
        r = CliRun.Run(new RecordingLinkBackend(), "--kernel", "link", "show");
        Assert.True(r.Options!.Kernel);
    }

    [Theory]
    [InlineData(new[] { "--run-dir", "/tmp/x", "link" }, null, "/tmp/x")]
    [InlineData(new[] { "--run-dir=/tmp/y", "link" }, null, "/tmp/y")]
    [InlineData(new[] { "-r", "/tmp/z", "link" }, "/env", "/tmp/z")]
    [InlineData(new[] { "link" }, "/env", "/env")]
    [InlineData(new[] { "link" }, null, "/run/mvtap")]
    public void Run_dir_comes_from_option_then_environment_then_default(string[] args, string? env, string expected)
    {
        var r = CliRun.Run(new RecordingLinkBackend(), name => name == "MVTAP_RUN_DIR" ? env : null, args);
        Assert.Equal(0, r.Exit);
        Assert.Equal(expected, r.RunDir);
    }

    [Fact]
    public void Version_is_printed()
    {
        var r = CliRun.Run(new RecordingLinkBackend(), "-V");
        Assert.Equal(0, r.Exit);
        Assert.StartsWith("mvtap utility, ", r.Stdout);
    }

    [Fact]
    public void Options_after_the_object_are_not_global_options()
    {
        // as in ip, `link show -j` takes "-j" as a device name
        var backend = new RecordingLinkBackend();
        var r = CliRun.Run(backend, "link", "show", "-j");
        Assert.Equal("""{"op":"link-show","name":"-j"}""", CliRun.Json(Assert.Single(backend.Requests)));
        Assert.Equal(1, r.Exit);
        Assert.Equal("Device \"-j\" does not exist.\n", r.Stderr);
    }
}
