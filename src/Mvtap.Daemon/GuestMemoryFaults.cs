// Lets mvtapd survive a vhost-user frontend that shrinks its guest memory file under the mapping
// (only an endpoint with `guestmem any` maps such memory). Touching a page the file no longer
// has raises SIGBUS; .NET turns it into an AccessViolationException, which by default ends the
// process whatever catches it. With DOTNET_legacyCorruptedStateExceptionsPolicy=1 in its
// environment at start the runtime delivers it to catch blocks instead, and the vhost-user
// backend catches it where it touches guest memory: the device is marked broken and the
// session closed, the rest of the daemon goes on. The runtime reads the setting only from the
// environment, at start, and Microsoft documents it as unsupported: so mvtapd, when it is not
// set, restarts itself at once (execve: same pid, same arguments) with it added. If a runtime
// stops honouring it, a truncation kills mvtapd again; the daemon tests check it on every run.
// An operator who sets the variable to anything (0 too) is left alone.
using Mvtap.Linux.Interop;

namespace Mvtap.Daemon;

internal static class GuestMemoryFaults
{
    public const string Variable = "DOTNET_legacyCorruptedStateExceptionsPolicy";

    /// <summary>Returns when the setting is in place (or was chosen by the operator); otherwise
    /// replaces the process, or warns and returns if it cannot.</summary>
    public static void EnsureCatchable()
    {
        if (Environment.GetEnvironmentVariable(Variable) is not null) return;
        string error;
        try
        {
            // the exact argv this process was started with (dotnet mvtapd.dll ..., or the apphost)
            var argv = File.ReadAllText("/proc/self/cmdline").TrimEnd('\0').Split('\0');
            var environment = new List<string>();
            foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
                environment.Add($"{e.Key}={e.Value}");
            environment.Add($"{Variable}=1");
            int errno = Exec.ReplaceImage("/proc/self/exe", argv, environment);
            error = new SystemCallException("execve", errno).Message;
        }
        catch (IOException e)
        {
            error = e.Message;
        }
        Console.Error.WriteLine($"mvtapd: warning: cannot restart with {Variable}=1 ({error}): a vhost-user frontend of a " +
            "guestmem any endpoint that shrinks its guest memory would crash mvtapd");
    }
}
