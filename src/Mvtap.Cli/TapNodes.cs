// What udev would do for a --kernel macvtap: the character node /dev/tap<ifindex> for the
// major:minor that sysfs shows *in the link's network namespace*, with the requested owner and
// group. The spec's trap (5.1): the name uses the per-namespace ifindex while /dev is global, so
// /dev/tapN may already be another namespace's device. Such a node is never reused or replaced
// (someone may have it open, and it is not ours); the link gets /dev/tap<ifindex>-<netns inode>
// instead, with a warning naming the conflict. A node is removed only while its major:minor is
// still the deleted link's, so a node that has meanwhile become another device's is left alone.
using System.Globalization;
using Mvtap.Core.Model;
using Mvtap.Linux;
using Mvtap.Linux.Interop;

namespace Mvtap.Cli;

/// <summary>A macvtap's character device as sysfs reports it, and its namespace's inode number.</summary>
internal sealed record TapDevice(string LinkName, int Index, uint Major, uint Minor, ulong NetnsInode);

internal sealed class TapNodes(Func<FileDescriptor> openNetns, TextWriter warnings, string devDirectory = "/dev")
{
    private const uint DefaultPermissions = 0x180 /* 0600, udev's default */, GroupPermissions = 0x1B0 /* 0660 */;

    /// <summary>The character devices of the given macvtaps (name, ifindex) that sysfs of the namespace shows.</summary>
    public IReadOnlyList<TapDevice> Read(IEnumerable<(string Name, int Index)> links) => Refusing(() => ReadDevices(links));

    private IReadOnlyList<TapDevice> ReadDevices(IEnumerable<(string Name, int Index)> links)
    {
        var wanted = links.ToList();
        if (wanted.Count == 0) return [];
        using var netns = openNetns();
        return NamespaceSysfs.Read(netns, () =>
        {
            ulong inode = CurrentNetnsInode();
            var found = new List<TapDevice>();
            foreach (var (name, index) in wanted)
            {
                string file = $"/sys/class/net/{name}/tap{index}/dev";
                if (!File.Exists(file)) continue;
                var (major, minor) = DeviceNodes.ParseDevNumber(File.ReadAllText(file));
                found.Add(new TapDevice(name, index, major, minor, inode));
            }
            return found;
        });
    }

    public TapDevice ReadOne(string name, int index) =>
        Read([(name, index)]).SingleOrDefault()
        ?? throw new LinkOperationException(Errno.ENODEV, $"no character device for {name} in sysfs (/sys/class/net/{name}/tap{index}/dev)");

    /// <summary>/dev/tapN, the name udev would use.</summary>
    public string PrimaryPath(TapDevice d) => Path.Combine(devDirectory, $"tap{d.Index}");

    /// <summary>Where the node goes when /dev/tapN is another namespace's device.</summary>
    public string AlternativePath(TapDevice d) => Path.Combine(devDirectory, $"tap{d.Index}-{d.NetnsInode}");

    /// <summary>
    /// Makes sure a node for <paramref name="d"/> exists and applies the ownership: uid/gid null
    /// leave that id unchanged; <paramref name="permissions"/> null keeps an existing node's mode
    /// (a new one gets 0600). Returns the node's path.
    /// </summary>
    public string Ensure(TapDevice d, uint? uid, uint? gid, uint? permissions) => Refusing(() => EnsureNode(d, uid, gid, permissions));

    private string EnsureNode(TapDevice d, uint? uid, uint? gid, uint? permissions)
    {
        var (path, created) = Place(d, permissions ?? DefaultPermissions);
        // mknod's mode is filtered by the umask (0660 would become 0640), so a new node is set explicitly
        if (permissions is not null || created) DeviceNodes.SetPermissions(path, permissions ?? DefaultPermissions);
        if (uid is not null || gid is not null)
            Ownership.Change(path, uid is uint u ? (int)u : -1, gid is uint g ? (int)g : -1);
        return path;
    }

    /// <summary>0660 when a group is given (so the group can open it), else 0600.</summary>
    public static uint PermissionsFor(bool groupGiven) => groupGiven ? GroupPermissions : DefaultPermissions;

    /// <summary>The existing node for <paramref name="d"/> (primary, else alternative), if any.</summary>
    public (string Path, NodeInfo Info)? Find(TapDevice d) => Refusing(() => FindNode(d));

    private (string Path, NodeInfo Info)? FindNode(TapDevice d)
    {
        foreach (var path in new[] { PrimaryPath(d), AlternativePath(d) })
            if (DeviceNodes.Inspect(path) is { } info && Matches(info, d)) return (path, info);
        return null;
    }

    /// <summary>Removes the nodes that still are <paramref name="d"/>'s device (after the link is gone).</summary>
    public void Remove(TapDevice d) => Refusing(() => { RemoveNodes(d); return 0; });

    private void RemoveNodes(TapDevice d)
    {
        foreach (var path in new[] { PrimaryPath(d), AlternativePath(d) })
        {
            if (DeviceNodes.Inspect(path) is not { } info || !Matches(info, d)) continue;
            try { File.Delete(path); }
            catch (FileNotFoundException) { } // devtmpfs removes its own node when the device goes
        }
    }

    private (string Path, bool Created) Place(TapDevice d, uint permissions)
    {
        string primary = PrimaryPath(d);
        // a few rounds: devtmpfs (or another mvtap) may create the name between our look and our mknod
        for (int attempt = 0; attempt < 5; attempt++)
        {
            var info = DeviceNodes.Inspect(primary);
            if (info is null)
            {
                if (TryCreate(primary, d, permissions)) return (primary, true);
                continue;
            }
            if (Matches(info, d)) return (primary, false);

            string alternative = AlternativePath(d);
            warnings.WriteLine(
                $"Warning: {primary} is {Describe(info)}, not {d.LinkName}'s device {d.Major}:{d.Minor} " +
                $"(another network namespace's tap{d.Index}); using {alternative} instead.");
            var existing = DeviceNodes.Inspect(alternative);
            if (existing is not null && Matches(existing, d)) return (alternative, false);
            // the name carries this namespace's inode and the ifindex, unique among live devices:
            // a different node there is left from a deleted link of this namespace
            if (existing is not null) File.Delete(alternative);
            if (TryCreate(alternative, d, permissions)) return (alternative, true);
        }
        throw new LinkOperationException(Errno.EEXIST, $"could not create a device node for {d.LinkName} ({d.Major}:{d.Minor}): {primary} keeps changing");
    }

    private static bool TryCreate(string path, TapDevice d, uint permissions)
    {
        try
        {
            DeviceNodes.CreateCharacterDevice(path, d.Major, d.Minor, permissions);
            return true;
        }
        catch (SystemCallException e) when (e.Errno == (int)Errno.EEXIST)
        {
            return false;
        }
        catch (SystemCallException e)
        {
            throw new LinkOperationException(e.Errno, $"cannot create {path}: {e.Message}");
        }
    }

    // a failed syscall is a refused operation for the CLI (exit 1, "Error: ..."), not a crash
    private static T Refusing<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (SystemCallException e)
        {
            throw new LinkOperationException(e.Errno, e.Message);
        }
    }

    private static bool Matches(NodeInfo info, TapDevice d) => info.IsCharacterDevice && info.Major == d.Major && info.Minor == d.Minor;

    private static string Describe(NodeInfo info) =>
        info.IsCharacterDevice ? $"character device {info.Major}:{info.Minor}" : "not a character device";

    // "net:[4026532290]" -> 4026532290, the namespace's identity for the alternative name
    private static ulong CurrentNetnsInode()
    {
        string id = NetNamespace.CurrentId();
        int open = id.IndexOf('['), close = id.IndexOf(']');
        return ulong.Parse(id[(open + 1)..close], CultureInfo.InvariantCulture);
    }
}
