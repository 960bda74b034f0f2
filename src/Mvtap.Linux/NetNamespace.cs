// Running code inside a named network namespace (/run/netns/NAME, as `ip netns` creates them).
// setns() moves only the calling thread, so the action runs synchronously on this thread and
// the thread is moved back afterwards; a socket opened inside stays in that namespace for good.
using Mvtap.Linux.Interop;

namespace Mvtap.Linux;

public static class NetNamespace
{
    public const string RunDirectory = "/run/netns";

    /// <summary>Opens the namespace file for NAME (for setns or IFLA_NET_NS_FD).</summary>
    public static FileDescriptor Open(string name)
    {
        if (name.Length == 0 || name.Contains('/') || name is "." or "..")
            throw new ArgumentException($"bad namespace name '{name}'", nameof(name));
        return FileIo.Open(Path.Combine(RunDirectory, name), FileIo.O_RDONLY);
    }

    /// <summary>The calling thread's current network namespace.</summary>
    public static FileDescriptor OpenCurrent() => FileIo.Open("/proc/thread-self/ns/net", FileIo.O_RDONLY);

    /// <summary>Runs <paramref name="action"/> on this thread inside namespace NAME and returns its result.</summary>
    public static T Run<T>(string name, Func<T> action)
    {
        using var target = Open(name);
        return Run(target, action);
    }

    public static void Run(string name, Action action) => Run(name, () => { action(); return 0; });

    /// <summary>Runs <paramref name="action"/> inside the namespace <paramref name="target"/> refers to.</summary>
    public static T Run<T>(FileDescriptor target, Func<T> action)
    {
        using var original = OpenCurrent();
        Enter(target);
        try
        {
            return action();
        }
        finally
        {
            // Failing to return would leave a pool thread in the wrong namespace: that must not pass silently.
            if (Namespaces.setns(original.Fd, Namespaces.CLONE_NEWNET) < 0)
                Environment.FailFast("setns back to the original network namespace failed");
        }
    }

    /// <summary>Moves the calling thread into the namespace <paramref name="target"/> refers to.</summary>
    public static void Enter(FileDescriptor target)
    {
        Libc.Check(Namespaces.setns(target.Fd, Namespaces.CLONE_NEWNET), "setns(CLONE_NEWNET)");
        GC.KeepAlive(target);
    }

    /// <summary>The name under /run/netns of the namespace <paramref name="ns"/> refers to, or null
    /// when it has none.</summary>
    public static string? NameOf(FileDescriptor ns)
    {
        if (!System.IO.Directory.Exists(RunDirectory)) return null;
        var identity = FileIdentity.Of(ns);
        foreach (var path in System.IO.Directory.GetFiles(RunDirectory))
        {
            var name = Path.GetFileName(path);
            try
            {
                using var fd = Open(name);
                if (FileIdentity.Of(fd) == identity) return name;
            }
            catch (Exception e) when (e is SystemCallException or ArgumentException) { /* gone meanwhile, or not ours to open: skip */ }
        }
        return null;
    }

    /// <summary>The identity of the namespace an open namespace file refers to, as the kernel prints it,
    /// e.g. "net:[4026531840]" (the nsfs inode; the descriptor's own /proc link would name the path
    /// it was opened by instead, a bind mount's for a named namespace).</summary>
    public static string IdOf(FileDescriptor netns) => $"net:[{FileIdentity.Of(netns).Inode}]";

    /// <summary>The calling thread's namespace identity as the kernel prints it, e.g. "net:[4026531840]".</summary>
    public static string CurrentId() =>
        new FileInfo("/proc/thread-self/ns/net").LinkTarget ?? throw new InvalidOperationException("no /proc/thread-self/ns/net");
}
