// A network namespace for one test (root only): a unique short name, a veth pair l0/l0p as the
// lower, and removal on every exit path, including a constructor that fails half way. `mvtap`
// runs in-process with the calling thread moved into the namespace, so the CLI's own defaults
// (rtnetlink and sysfs of the caller's namespace) are what is tested.
using System.Diagnostics;
using Mvtap.Cli;
using Mvtap.Linux;

namespace Mvtap.Cli.Tests;

internal sealed class ThrowawayNamespace : IDisposable
{
    public string Name { get; } = "mvt" + Random.Shared.Next(0x100000, 0xFFFFFF).ToString("x6");

    public ThrowawayNamespace()
    {
        Run("ip", "netns", "add", Name);
        try
        {
            Ip("link", "add", "l0", "type", "veth", "peer", "name", "l0p");
            Ip("link", "set", "l0", "up");
            Ip("link", "set", "l0p", "up");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>`ip -n NAME ARGS...`; throws on a non-zero exit.</summary>
    public string Ip(params string[] args) => Run("ip", ["-n", Name, .. args]);

    /// <summary>`mvtap --kernel ARGS...` run in-process inside the namespace.</summary>
    public CliResult Mvtap(params string[] args) => NetNamespace.Run(Name, () =>
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = MvtapCli.Run(["--kernel", .. args], stdout, stderr);
        return new CliResult(exit, stdout.ToString(), stderr.ToString(), null, null);
    });

    /// <summary>"net:[N]" of the namespace: N names the alternative /dev/tapN-N node.</summary>
    public ulong Inode
    {
        get
        {
            string id = NetNamespace.Run(Name, NetNamespace.CurrentId);
            return ulong.Parse(id[(id.IndexOf('[') + 1)..id.IndexOf(']')]);
        }
    }

    public void Dispose()
    {
        // mvtap's own nodes (not devtmpfs's) would outlive the namespace: delete macvtaps through mvtap
        try
        {
            foreach (var line in Ip("-o", "link", "show", "type", "macvtap").Split('\n', StringSplitOptions.RemoveEmptyEntries))
                Mvtap("link", "del", line.Split(':')[1].Trim().Split('@')[0]);
        }
        catch (InvalidOperationException) { } // the namespace never came to be
        Run("ip", ["netns", "del", Name], allowFailure: true);
    }

    public static string Run(string file, params string[] args) => Run(file, args, allowFailure: false);

    private static string Run(string file, string[] args, bool allowFailure)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var error = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0 && !allowFailure)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)}: {error.Result}");
        return output;
    }
}
