// The mvtap CLI run as uid and gid 65534 (nobody, no supplementary groups) through setpriv, from a
// world-readable copy of the build output (ReadableBuildCopy), so it runs wherever the checkout is.
namespace Mvtap.Daemon.Tests;

internal sealed class NobodyCli : IDisposable
{
    public const int Id = ReadableBuildCopy.NobodyId;
    private readonly ReadableBuildCopy _copy = new();

    /// <summary>`mvtap --run-dir RUNDIR ARGS` as nobody; its exit status and standard error.</summary>
    public (int Status, string Err) Run(string runDir, params string[] args)
    {
        var (status, _, err) = _copy.RunAsNobody("mvtap.dll", TimeSpan.FromSeconds(60), ["--run-dir", runDir, .. args]);
        return status is { } s ? (s, err) : throw new TimeoutException($"mvtap {string.Join(' ', args)} as nobody did not finish");
    }

    public void Dispose() => _copy.Dispose();
}
