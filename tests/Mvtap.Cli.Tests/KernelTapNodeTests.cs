// `mvtap --kernel` doing udev's part for a macvtap (root only): /dev/tap<ifindex> with the
// major:minor sysfs shows in the link's namespace, mode 0660 with a group, the requested owner
// and group, re-owned by `link set`, removed by `link del`; and the spec 5.1 trap: when /dev/tapN
// is another namespace's device, it is left alone and /dev/tapN-<netns inode> is used instead.
using System.Text.Json;
using Mvtap.Linux.Interop;

namespace Mvtap.Cli.Tests;

public sealed class KernelTapNodeTests
{
    private static int Index(ThrowawayNamespace ns, string name)
    {
        using var doc = JsonDocument.Parse(ns.Ip("-j", "link", "show", name));
        return doc.RootElement[0].GetProperty("ifindex").GetInt32();
    }

    private static (uint Major, uint Minor) SysfsDev(ThrowawayNamespace ns, string name, int index) =>
        DeviceNodes.ParseDevNumber(ThrowawayNamespace.Run("ip", "netns", "exec", ns.Name, "cat", $"/sys/class/net/{name}/tap{index}/dev"));

    private static string NodePath(ThrowawayNamespace ns, CliResult added, int index) =>
        added.Stderr.Contains("Warning:") ? $"/dev/tap{index}-{ns.Inode}" : $"/dev/tap{index}";

    [Fact]
    public void Node_has_the_namespace_s_device_number_mode_and_owner_and_goes_with_the_link()
    {
        Assert.True(TestHost.IsRoot, "drives the kernel through rtnetlink: run as root (CI does)");
        using var ns = new ThrowawayNamespace();
        var added = ns.Mvtap("link", "add", "link", "l0", "name", "t0", "type", "macvtap", "owner", "nobody", "group", "1234");
        Assert.True(added.Exit == 0, added.Stderr);
        int index = Index(ns, "t0");
        var (major, minor) = SysfsDev(ns, "t0", index);
        string path = NodePath(ns, added, index);

        var node = DeviceNodes.Inspect(path);
        Assert.NotNull(node);
        Assert.True(node.IsCharacterDevice);
        Assert.Equal((major, minor), (node.Major, node.Minor));
        Assert.Equal(0x1B0u /* 0660 */, node.Permissions);
        Assert.Equal(65534u, node.Uid); // nobody in /etc/passwd
        Assert.Equal(1234u, node.Gid);
        Assert.Contains("owner nobody group 1234", ns.Mvtap("-d", "link", "show", "t0").Stdout);

        Assert.Equal(0, ns.Mvtap("link", "set", "t0", "owner", "root", "group", "0").Exit);
        node = DeviceNodes.Inspect(path)!;
        Assert.Equal((0u, 0u), (node.Uid, node.Gid));

        Assert.Equal(0, ns.Mvtap("link", "del", "t0").Exit);
        var after = DeviceNodes.Inspect(path);
        // the name may already be another namespace's device again, but never still ours
        Assert.True(after is null || (after.Major, after.Minor) != (major, minor), $"{path} still {major}:{minor}");
    }

    [Fact]
    public void Without_owner_the_node_is_root_0600_as_udev_makes_it()
    {
        Assert.True(TestHost.IsRoot, "drives the kernel through rtnetlink: run as root (CI does)");
        using var ns = new ThrowawayNamespace();
        var added = ns.Mvtap("link", "add", "link", "l0", "name", "t0", "type", "macvtap");
        Assert.True(added.Exit == 0, added.Stderr);
        int index = Index(ns, "t0");
        var node = DeviceNodes.Inspect(NodePath(ns, added, index))!;
        Assert.Equal(SysfsDev(ns, "t0", index), (node.Major, node.Minor));
        Assert.Equal((0x180u /* 0600 */, 0u, 0u), (node.Permissions, node.Uid, node.Gid));
    }

    [Fact]
    public void Another_namespace_s_tapN_is_left_alone_and_an_alternative_node_is_made()
    {
        Assert.True(TestHost.IsRoot, "drives the kernel through rtnetlink: run as root (CI does)");
        using var other = new ThrowawayNamespace();
        using var ns = new ThrowawayNamespace();
        other.Ip("link", "add", "link", "l0", "name", "x0", "type", "macvtap");
        int index = Index(other, "x0");
        var theirs = SysfsDev(other, "x0", index);
        // devtmpfs makes the other namespace's node asynchronously. It makes none when another test
        // class's tap of the same index held the name at that moment and has gone since (devtmpfs
        // removes a node only for its own device): then the node is made here, as devtmpfs would.
        string primary = $"/dev/tap{index}";
        for (var deadline = DateTime.UtcNow.AddSeconds(3); DeviceNodes.Inspect(primary) is null && DateTime.UtcNow < deadline;)
            Thread.Sleep(20);
        bool madeHere = DeviceNodes.Inspect(primary) is null;
        if (madeHere) ThrowawayNamespace.Run("mknod", "-m", "0600", primary, "c", theirs.Major.ToString(), theirs.Minor.ToString());
        try
        {
            Assert.NotNull(DeviceNodes.Inspect(primary));

            var added = ns.Mvtap("link", "add", "link", "l0", "name", "t0", "type", "macvtap", "group", "1234");
            Assert.True(added.Exit == 0, added.Stderr);
            Assert.Equal(index, Index(ns, "t0")); // alike namespaces: the same ifindex, the trap itself
            var ours = SysfsDev(ns, "t0", index);
            Assert.NotEqual(theirs, ours);
            string alternative = $"/dev/tap{index}-{ns.Inode}";
            // other test classes run in parallel and may own /dev/tapN by now: what matters is that it is not ours
            Assert.Contains($"Warning: {primary} is character device ", added.Stderr);
            Assert.Contains($"not t0's device {ours.Major}:{ours.Minor}", added.Stderr);
            Assert.Contains($"using {alternative} instead", added.Stderr);
            Assert.False(IsNodeOf(primary, ours), $"{primary} was taken over");

            var node = DeviceNodes.Inspect(alternative)!;
            Assert.Equal(ours, (node.Major, node.Minor));
            Assert.Equal((0x1B0u, 1234u), (node.Permissions, node.Gid));

            Assert.Equal(0, ns.Mvtap("link", "del", "t0").Exit);
            Assert.Null(DeviceNodes.Inspect(alternative));
            Assert.False(IsNodeOf(primary, ours));
        }
        finally
        {
            if (madeHere && IsNodeOf(primary, theirs)) File.Delete(primary);
        }
    }

    private static bool IsNodeOf(string path, (uint Major, uint Minor) dev) =>
        DeviceNodes.Inspect(path) is { } n && (n.Major, n.Minor) == dev;

    [Fact]
    public void Unknown_owner_is_refused_before_a_link_is_made()
    {
        Assert.True(TestHost.IsRoot, "drives the kernel through rtnetlink: run as root (CI does)");
        using var ns = new ThrowawayNamespace();
        var refused = ns.Mvtap("link", "add", "link", "l0", "name", "t0", "type", "macvtap", "owner", "no-such-user-mvtap");
        Assert.Equal(1, refused.Exit);
        Assert.Equal("Error: invalid user \"no-such-user-mvtap\".\n", refused.Stderr);
        Assert.Equal("", ns.Ip("-o", "link", "show", "type", "macvtap"));

        Assert.Equal(0, ns.Mvtap("link", "add", "link", "l0", "name", "v0", "type", "macvlan").Exit);
        var onMacvlan = ns.Mvtap("link", "set", "v0", "owner", "nobody");
        Assert.Equal(1, onMacvlan.Exit);
        Assert.Contains("owner and group belong to a macvtap", onMacvlan.Stderr);
    }
}
