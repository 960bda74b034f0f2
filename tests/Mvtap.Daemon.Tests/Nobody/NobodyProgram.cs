// Runs this test assembly as a program (its entry point is TestAssemblyProgram) under uid and
// gid 65534 (nobody, no supplementary groups), for the part of a test that must be another,
// unprivileged process: an endpoint's owner attacking the daemon. It runs from a world-readable
// copy of the build output (ReadableBuildCopy), so wherever the checkout lives.
namespace Mvtap.Daemon.Tests.Nobody;

internal sealed class NobodyProgram : IDisposable
{
    private readonly ReadableBuildCopy _copy = new();

    /// <summary>Runs `COMMAND ARGS` of TestAssemblyProgram as nobody; waits at most
    /// <paramref name="timeout"/> (then kills it: status -1) and returns its exit status and output.</summary>
    public (int Status, string Output) Run(TimeSpan timeout, params string[] args)
    {
        var (status, output, err) = _copy.RunAsNobody("Mvtap.Daemon.Tests.dll", timeout, args);
        return (status ?? -1, (status is null ? $"timed out after {timeout}\n" : "") + output + err);
    }

    public void Dispose() => _copy.Dispose();
}
