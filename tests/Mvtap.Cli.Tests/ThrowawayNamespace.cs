// A network namespace for one test (root only): the shared TestNamespace with a veth pair l0/l0p
// as the lower, removed on every exit path, including a constructor that fails half way.
// `mvtap` runs in-process with the calling thread moved into the namespace, so the CLI's own
// defaults (rtnetlink and sysfs of the caller's namespace) are what is tested.
using Mvtap.Cli;
using Mvtap.Linux;

namespace Mvtap.Cli.Tests;

internal sealed class ThrowawayNamespace : IDisposable
{
    private readonly TestNamespace _ns = new("mvt");

    public ThrowawayNamespace()
    {
        try { _ns.AddVeth("l0", "l0p"); }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Name => _ns.Name;

    /// <summary>`ip -n NAME ARGS...`; throws on a non-zero exit.</summary>
    public string Ip(params string[] args) => _ns.Ip(args);

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
        _ns.Dispose();
    }

    /// <summary>A command that must succeed; its standard output.</summary>
    public static string Run(string file, params string[] args) => TestNet.Run(file, args);
}
