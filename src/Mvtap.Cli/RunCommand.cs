// `mvtap run NAME -- COMMAND...`: start a hypervisor with the endpoint's tap file descriptor as
// fd 3. A hook for the tap relay, which is not built yet; until then it says so and fails.
namespace Mvtap.Cli;

internal static class RunCommand
{
    public static int Run(IReadOnlyList<string> args, TextWriter stderr)
    {
        stderr.WriteLine("Error: \"mvtap run\" needs the tap relay, which is not implemented yet; use \"mvtap qemu NAME\" (vhost-user or stream).");
        return LinkOperationException.ExitStatus;
    }
}
