// The `netns NS` of a request: a name under /run/netns (as `ip netns add` and container runtimes
// make them) or, as ip also takes it, the PID of a process whose namespace is meant. ip tries the
// name first, and so does this. A PID is turned into the name of its namespace under /run/netns:
// that is what the endpoint is kept and restored by (after a restart the PID may be another
// process's); a namespace without a name is refused with a hint. A client that is not root may
// name only a process its uid owns, as the kernel's ptrace check has it (real, effective and saved
// uid all the client's): otherwise any member of the socket group could put an interface into any
// process's namespace. The process is read through a descriptor of its /proc directory, so a PID
// reused meanwhile cannot swap the process that was checked for another. A name that is neither
// under /run/netns nor a process is refused in ip's words (ENOENT). A client that is not root
// names only a namespace its uid owns through a user namespace (CheckNamedOwner).
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
        bool named = File.Exists(Path.Combine(NetNamespace.RunDirectory, value));
        if (named) return CheckNamedOwner(value, clientUid);
        if (!int.TryParse(value, System.Globalization.NumberStyles.None, null, out int pid) || pid <= 0)
            throw new MvtapException(Errno.ENOENT, $"argument \"{value}\" is wrong: Invalid \"netns\" value");
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

    /// <summary>A client that is not root may name a namespace under /run/netns only if its uid
    /// owns the user namespace that owns it, or one above that: the kernel gives such a uid
    /// CAP_NET_ADMIN over the namespace (a rootless container's, say), so it could move an
    /// interface there itself. A namespace made by root (`ip netns add`) belongs to the initial
    /// user namespace, which no uid owns: only root names it.</summary>
    private static string CheckNamedOwner(string name, uint clientUid)
    {
        if (clientUid == 0) return name;
        List<uint> owners;
        try
        {
            using var ns = NetNamespace.Open(name);
            owners = NamespaceIoctls.UserNamespaceOwners(ns);
        }
        catch (SystemCallException e) when (e.Errno == (int)Errno.ENOENT)
        {
            throw new MvtapException(Errno.ENOENT, $"argument \"{name}\" is wrong: Invalid \"netns\" value");
        }
        catch (SystemCallException)
        {
            throw new MvtapException(Errno.EINVAL, $"argument \"{name}\" is wrong: Invalid \"netns\" value: {NetNamespace.RunDirectory}/{name} is not a namespace");
        }
        if (!owners.Contains(clientUid))
            throw new MvtapException(Errno.EPERM, $"Operation not permitted: network namespace \"{name}\" is not yours " +
                "(a client that is not root names only a namespace whose user namespace its uid owns, or a process of its own by PID)");
        return name;
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
