// Finds the network namespace behind a netnsid. The kernel reports a link moved away with the id
// of its new namespace as the old one knows it (IFLA_NEW_NETNSID); ids are per namespace pair and
// name nothing outside the kernel, so the namespace is found by asking the old namespace for the
// id of each namespace mvtap can reach (RTM_GETNSID with its descriptor): the ones already
// followed, the named ones (/run/netns, as `ip netns` makes them) and those of running processes
// (/proc/PID/ns/net: containers), each once. A namespace none of these reaches — held only by a
// descriptor in some process, or by nothing but the interfaces in it — cannot be followed.
using Mvtap.Linux.Interop;

namespace Mvtap.Linux.Datapath;

internal static class NetnsLocator
{
    /// <summary>Every namespace reachable by a path, one path each: named ones first, then processes'.</summary>
    public static List<(string Path, string Label, string Id)> Reachable()
    {
        var found = new List<(string, string, string)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            if (Directory.Exists(NetNamespace.RunDirectory))
            {
                foreach (var path in Directory.EnumerateFiles(NetNamespace.RunDirectory).Order(StringComparer.Ordinal))
                {
                    if (IdOfFile(path) is { } id && seen.Add(id)) found.Add((path, Path.GetFileName(path), id));
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* a name that went away meanwhile */ }
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            var name = Path.GetFileName(dir);
            if (name.Length == 0 || !char.IsAsciiDigit(name[0])) continue;
            string path = $"{dir}/ns/net";
            string? id;
            try { id = new FileInfo(path).LinkTarget; }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; } // the process ended
            if (id is not null && seen.Add(id)) found.Add((path, $"pid {name}", id));
        }
        return found;
    }

    /// <summary>Whether <paramref name="ns"/> can still be reached by a name or a process.</summary>
    public static bool IsReachable(LowerNamespace ns)
    {
        foreach (var (_, _, id) in Reachable()) if (id == ns.Id) return true;
        return false;
    }

    /// <summary>The namespace that <paramref name="nsid"/> names as <paramref name="from"/> knows it:
    /// one of <paramref name="known"/>, or a reachable one, opened (the caller owns it then); null
    /// when none is.</summary>
    public static LowerNamespace? Resolve(LowerNamespace from, int nsid, IReadOnlyList<LowerNamespace> known)
    {
        var client = from.Client ?? throw new InvalidOperationException($"{from} is not watched");
        foreach (var k in known)
            if (client.GetNsId(k.Handle) == nsid) return k;
        var seen = new HashSet<string>(known.Select(k => k.Id), StringComparer.Ordinal);
        foreach (var (path, label, id) in Reachable())
        {
            if (!seen.Add(id)) continue;
            if (LowerNamespace.TryOpen(path, label) is not { } ns) continue;
            // the path may name another namespace by now (a process that exec'd, a name re-made)
            if (ns.Id == id && client.GetNsId(ns.Handle) == nsid) return ns;
            ns.Dispose();
        }
        return null;
    }

    // A file under /run/netns is a bind mount of the namespace, not a link: open it to read its id.
    private static string? IdOfFile(string path)
    {
        try
        {
            using var fd = FileIo.Open(path, FileIo.O_RDONLY);
            return NetNamespace.IdOf(fd);
        }
        catch (Exception e) when (e is SystemCallException or InvalidOperationException) { return null; }
    }
}
