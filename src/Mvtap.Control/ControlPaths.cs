// Where things live under the run directory: the control socket and each macvtap endpoint's
// attachment points, named after its index as the kernel's /dev/tapN is.
namespace Mvtap.Control;

public static class ControlPaths
{
    public const string DefaultRunDir = "/run/mvtap";
    public const string RunDirEnvironmentVariable = "MVTAP_RUN_DIR";
    public const string SocketFileName = "mvtapd.sock";

    /// <summary>--run-dir wins, then MVTAP_RUN_DIR, then /run/mvtap.</summary>
    public static string ResolveRunDir(string? explicitRunDir, Func<string, string?>? getEnvironment = null)
    {
        if (!string.IsNullOrEmpty(explicitRunDir)) return explicitRunDir;
        var fromEnv = (getEnvironment ?? Environment.GetEnvironmentVariable)(RunDirEnvironmentVariable);
        return string.IsNullOrEmpty(fromEnv) ? DefaultRunDir : fromEnv;
    }

    public static string SocketPath(string runDir) => Path.Combine(runDir, SocketFileName);

    public static string VhostUserPath(string runDir, int index) => Path.Combine(runDir, $"tap{index}.vhost");

    public static string StreamPath(string runDir, int index) => Path.Combine(runDir, $"tap{index}.stream");
}
