// Finds the network namespace behind a netnsid. The kernel reports a link moved away with the id
// of its new namespace as the old one knows it (IFLA_NEW_NETNSID); ids are per namespace pair and
// name nothing outside the kernel, so the namespace is found by asking the old namespace for the
// id of each namespace mvtap can reach (RTM_GETNSID with its descriptor): the ones already
// followed, the bind-mounted ones (/run/netns, as `ip netns` makes them, or a container runtime's,
// from /proc/self/mountinfo) and those of running processes (/proc/PID/ns/net: containers), each
// once. A namespace none of these reaches — held only by a descriptor in some process, or by
// nothing but the interfaces in it — cannot be followed.

using Mvtap.Linux;

namespace Mvtap.Datapath;

internal static class NetnsLocator
{
    /// <summary>Every namespace reachable by a path, one path each: bind-mounted ones first (the names
    /// of `ip netns` under /run/netns, and any other nsfs mount: a container runtime's), then processes'.</summary>
    public static List<(string Path, string Label, string Id)> Reachable()
    {
        var found = new List<(string, string, string)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (path, id) in NetnsMounts())
        {
            string label = Path.GetDirectoryName(path) == NetNamespace.RunDirectory ? Path.GetFileName(path) : path;
            if (seen.Add(id)) found.Add((path, label, id));
        }
        IEnumerable<string> processes;
        try { processes = Directory.EnumerateDirectories("/proc"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return found; }
        foreach (var dir in processes)
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

    // /proc/self/mountinfo: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - FSTYPE SOURCE SUPEROPTIONS";
    // a bind-mounted network namespace has ROOT "net:[inode]" and FSTYPE nsfs.
    private static IEnumerable<(string Path, string Id)> NetnsMounts()
    {
        string[] lines;
        try { lines = File.ReadAllLines("/proc/self/mountinfo"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { yield break; }
        foreach (var line in lines)
        {
            var fields = line.Split(' ');
            int dash = Array.IndexOf(fields, "-");
            if (fields.Length < 5 || dash < 0 || dash + 1 >= fields.Length || fields[dash + 1] != "nsfs") continue;
            if (!fields[3].StartsWith("net:[", StringComparison.Ordinal)) continue;
            // octal escapes for space, tab, newline and backslash in the mount point
            yield return (System.Text.RegularExpressions.Regex.Replace(fields[4], @"\\([0-7]{3})",
                m => ((char)Convert.ToInt32(m.Groups[1].Value, 8)).ToString()), fields[3]);
        }
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

}
