// Where things live under the run directory: the control socket, each macvtap endpoint's
// attachment points, named after its index as the kernel's /dev/tapN is, and the capture socket
// of a macvtap endpoint with an owner, named after the endpoint (`mvtap capture NAME` finds it
// without asking mvtapd, which its owner may not).
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

    /// <summary>Where the owners' capture sockets are.</summary>
    public static string CaptureDirectory(string runDir) => Path.Combine(runDir, "capture");

    public static string OwnerCapturePath(string runDir, string name) => Path.Combine(CaptureDirectory(runDir), $"{name}.sock");
}
