// CNI_NETNS is a path; mvtapd takes a network namespace by name, as `ip netns` keeps them under
// /run/netns (where podman, containerd and CRI-O put their containers' namespaces too). mvtapd
// records the name, so after a restart it finds the container's NIC in the same namespace.
namespace Mvtap.Cni;

internal static class NamespacePath
{
    private static readonly string[] NamedDirectories = ["/run/netns", "/var/run/netns"];

    /// <summary>The namespace name for mvtapd; error 4 for a path that is not a named namespace.</summary>
    public static string ToName(string cniNetns)
    {
        string full = Path.GetFullPath(cniNetns);
        string? dir = Path.GetDirectoryName(full);
        string name = Path.GetFileName(full);
        if (dir is null || Array.IndexOf(NamedDirectories, dir) < 0 || name.Length == 0)
            throw new CniError(CniError.InvalidEnvironment, $"CNI_NETNS \"{cniNetns}\" is not a named network namespace",
                "CNI_NETNS must be /run/netns/NAME or /var/run/netns/NAME (as ip netns, podman, containerd and CRI-O make them)");
        return name;
    }

    /// <summary>Whether the namespace file is still there (DEL after the container went is fine).</summary>
    public static bool Exists(string cniNetns) => File.Exists(cniNetns);

    /// <summary>True when the named namespace is the one this plugin runs in (the host's): nothing may be made there.</summary>
    public static bool IsOwn(string name) =>
        Mvtap.Linux.NetNamespace.Run(name, Mvtap.Linux.NetNamespace.CurrentId) == Mvtap.Linux.NetNamespace.CurrentId();
}
