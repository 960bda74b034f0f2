// Runs the mvtap command line in-process with captured stdout/stderr and a given backend.
using Mvtap.Cli;
using Mvtap.Control;

namespace Mvtap.Cli.Tests;

internal sealed record CliResult(int Exit, string Stdout, string Stderr, string? RunDir, GlobalOptions? Options);

internal static class CliRun
{
    public static CliResult Run(ILinkBackend backend, params string[] args) =>
        Run(backend, _ => null, args);

    public static CliResult Run(ILinkBackend backend, Func<string, string?> env, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        string? runDir = null;
        GlobalOptions? options = null;
        int exit = MvtapCli.Run(args, stdout, stderr, (o, dir) => { options = o; runDir = dir; return backend; }, env);
        return new CliResult(exit, stdout.ToString(), stderr.ToString(), runDir, options);
    }

    /// <summary>The request as it goes on the wire: a readable, value-comparable form.</summary>
    public static string Json(ControlRequest request) =>
        System.Text.Encoding.UTF8.GetString(ControlCodec.EncodeRequest(request));
}
