// The `netns NS` of a request: a name under /run/netns (as `ip netns add` and container runtimes
// make them) or, as ip also takes it, the PID of a process whose namespace is meant. ip tries the
// name first, and so does this. A PID is turned into the name of its namespace under /run/netns:
// that is what the endpoint is kept and restored by (after a restart the PID may be another
// process's); a namespace without a name is refused with a hint. A client that is not root may
// name only a process its uid owns, as the kernel's ptrace check has it (real, effective and saved
// uid all the client's): otherwise any member of the socket group could put an interface into any
// process's namespace. The process is read through a descriptor of its /proc directory, so a PID
// reused meanwhile cannot swap the process that was checked for another.
using Mvtap.Control;
using Mvtap.Core.Model;
using Mvtap.Linux;
using Mvtap.Linux.Interop;

namespace Mvtap.Daemon.Links;

internal static class NamespaceArgument
{
    private const int O_DIRECTORY = 0x10000;

    /// <summary>Refuses what cannot be a name under /run/netns (a path out of it, above all).</summary>
    public static void CheckName(string value)
    {
        if (value.Length == 0 || value.Contains('/') || value.Contains('\0') || value is "." or "..")
            throw new MvtapException(Errno.EINVAL, $"Invalid \"netns\" value \"{InterfaceNames.Printable(value)}\"");
    }

    public static string Resolve(string value, uint clientUid)
    {
        CheckName(value);
        if (!int.TryParse(value, System.Globalization.NumberStyles.None, null, out int pid) || pid <= 0
            || File.Exists(Path.Combine(NetNamespace.RunDirectory, value)))
            return value;
        FileDescriptor proc;
        try { proc = FileIo.Open($"/proc/{pid}", FileIo.O_RDONLY | O_DIRECTORY); }
        catch (SystemCallException) { throw new MvtapException(Errno.ESRCH, $"Invalid \"netns\" value \"{value}\": no process {pid}"); }
        using (proc)
        {
            var dir = $"/proc/self/fd/{proc.Fd}";
            try
            {
                if (clientUid != 0 && !OwnedBy(File.ReadAllLines($"{dir}/status"), clientUid))
                    throw new MvtapException(Errno.EPERM, $"Operation not permitted: process {pid} is not yours (netns PID names a process of the client's own user)");
                using var ns = FileIo.Open($"{dir}/ns/net", FileIo.O_RDONLY);
                return NetNamespace.NameOf(ns) ?? throw new MvtapException(Errno.EINVAL,
                    $"the network namespace of process {pid} has no name under {NetNamespace.RunDirectory}: name it with \"ip netns attach NAME {pid}\" and use that name");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or SystemCallException)
            {
                // the process ended while we looked
                throw new MvtapException(Errno.ESRCH, $"Invalid \"netns\" value \"{value}\": no process {pid}");
            }
        }
    }

    // /proc/PID/status: "Uid:\treal\teffective\tsaved\tfilesystem"
    private static bool OwnedBy(string[] status, uint uid)
    {
        var line = status.FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal));
        if (line is null) return false;
        var ids = line[4..].Split('\t', StringSplitOptions.RemoveEmptyEntries);
        return ids.Length >= 3 && ids.Take(3).All(id => uint.TryParse(id, out var v) && v == uid);
    }
}
