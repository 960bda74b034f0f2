// The daemon's LinkRegistry as the control and state targets use it: only sim lowers exist (a
// real interface name is ENODEV), nothing is saved to disk and nothing is logged, and the
// attachment points it names live under a directory that is never created.
using Microsoft.Extensions.Logging.Abstractions;
using Mvtap.Daemon.Links;

namespace Mvtap.Fuzz.Support;

public static class SimRegistry
{
    public const string RunDir = "/nonexistent/mvtap-fuzz-run";

    public static LinkRegistry Create() => new(_ => null, store: null, NullLogger.Instance, RunDir);
}
