// Which network namespaces mvtap can reach, and which are still in use by anyone but mvtapd:
// the ones mounted (nsfs bind mounts such as /run/netns/NAME, as `ip netns`, podman, CNI runtimes
// make them; read from /proc/self/mountinfo) and the ones processes live in (/proc/PID/ns/net).
// A namespace is known by its identity, "net:[inode]", the same whatever path leads to it.
// Used to find the namespace behind a netnsid (a container moved its NIC on), and to let go of a
// namespace nobody else holds any more: a descriptor mvtap keeps would otherwise keep it, and the
// interfaces in it, alive after its container is gone.
using System.Text;
using Mvtap.Linux.Interop;

namespace Mvtap.Linux;

public static class NetNamespaceReach
{
    /// <summary>One way to a namespace: a path to open, its identity, and its name under /run/netns if it is mounted there.</summary>
    public readonly record struct NamespacePath(string File, string Id, string? Name);

    /// <summary>The identity of the namespace a descriptor refers to, e.g. "net:[4026531840]" (its inode:
    /// the link of /proc/self/fd/N would be the path of a bind mount).</summary>
    public static string IdOf(FileDescriptor netns) => $"net:[{FileStat.Inode(netns)}]";

    /// <summary>The network namespaces mounted somewhere in mvtapd's mount namespace (named ones first).</summary>
    public static List<NamespacePath> Mounted()
    {
        var found = new List<NamespacePath>();
        string text;
        try { text = File.ReadAllText("/proc/self/mountinfo"); }
        catch (IOException) { return found; }
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
            var f = line.Split(' ');
            int dash = Array.IndexOf(f, "-");
            if (dash < 6 || dash + 1 >= f.Length || f[dash + 1] != "nsfs") continue;
            string root = Unescape(f[3]);
            if (!root.StartsWith("net:[", StringComparison.Ordinal)) continue;
            string mountPoint = Unescape(f[4]);
            string? name = Path.GetDirectoryName(mountPoint) is "/run/netns" or "/var/run/netns"
                ? Path.GetFileName(mountPoint) : null;
            found.Add(new NamespacePath(mountPoint, root, name));
        }
        found.Sort((a, b) => (a.Name is null).CompareTo(b.Name is null));
        return found;
    }

    /// <summary>The namespaces other processes live in (their main thread's), one path each.</summary>
    public static List<NamespacePath> OfOtherProcesses()
    {
        var found = new List<NamespacePath>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        string self = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        IEnumerable<string> dirs;
        try { dirs = Directory.EnumerateDirectories("/proc"); }
        catch (IOException) { return found; }
        foreach (var dir in dirs)
        {
            var pid = Path.GetFileName(dir);
            if (pid.Length == 0 || !char.IsAsciiDigit(pid[0]) || pid == self) continue;
            string file = $"{dir}/ns/net";
            string? id;
            try { id = new FileInfo(file).LinkTarget; }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; } // it ended meanwhile
            if (id is not null && seen.Add(id)) found.Add(new NamespacePath(file, id, null));
        }
        return found;
    }

    /// <summary>The identities of every namespace that is mounted or has a process other than mvtapd in it.</summary>
    public static HashSet<string> InUse()
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in Mounted()) ids.Add(p.Id);
        foreach (var p in OfOtherProcesses()) ids.Add(p.Id);
        return ids;
    }

    /// <summary>The first reachable namespace <paramref name="matches"/> accepts, opened (the caller owns the
    /// descriptor), with its identity and name; each namespace is tried once. Null when none is.</summary>
    public static (FileDescriptor Handle, NamespacePath Path)? Find(Func<FileDescriptor, bool> matches)
    {
        var tried = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in Mounted().Concat(OfOtherProcesses()))
        {
            if (!tried.Add(path.Id)) continue;
            FileDescriptor fd;
            try { fd = FileIo.Open(path.File, FileIo.O_RDONLY); }
            catch (SystemCallException) { continue; } // gone meanwhile
            try
            {
                // the path may lead elsewhere by now (a process that exec'd, a name made again)
                if (IdOf(fd) == path.Id && matches(fd)) return (fd, path);
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or SystemCallException) { }
            fd.Dispose();
        }
        return null;
    }

    /// <summary>The name under /run/netns of the namespace with identity <paramref name="id"/>, or null.</summary>
    public static string? NameOf(string id) => Mounted().FirstOrDefault(p => p.Id == id && p.Name is not null).Name;

    // mountinfo escapes space, tab, newline and backslash as \ooo
    private static string Unescape(string s)
    {
        if (!s.Contains('\\')) return s;
        var b = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && IsOctal(s, i + 1))
            {
                b.Append((char)Convert.ToInt32(s.Substring(i + 1, 3), 8));
                i += 3;
            }
            else b.Append(s[i]);
        }
        return b.ToString();
    }

    private static bool IsOctal(string s, int at) =>
        at + 3 <= s.Length && s[at] is >= '0' and <= '7' && s[at + 1] is >= '0' and <= '7' && s[at + 2] is >= '0' and <= '7';
}
