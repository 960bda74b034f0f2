// The kernel's own macvtap on the lab's lower, the reference the mvtap tests are measured
// against: created with ip in the host namespace, and its character device opened the way the
// seed does, except that the node is made in the test's private directory from the
// major:minor in the link namespace's sysfs (hypervisor-attachment.md section 7: tapN numbers repeat across
// namespaces while /dev is global, so a node is never looked up by name).
namespace Mvtap.Guest.Tests;

internal static class KernelMacvtap
{
    /// <summary>Creates macvtap NAME on the lab's lower with mode and MAC, up; returns the path
    /// of a private character device node for it.</summary>
    public static string Create(GuestLab lab, string name, string mode, string mac)
    {
        Sh.Ip("-n", lab.Host, "link", "add", "link", GuestLab.Lower, "name", name, "type", "macvtap", "mode", mode);
        Sh.Ip("-n", lab.Host, "link", "set", name, "address", mac, "up");
        var ifindex = Sh.Must("ip", "netns", "exec", lab.Host, "cat", $"/sys/class/net/{name}/ifindex").Trim();
        // `ip netns exec` mounts the namespace's own sysfs, where tapN/dev belongs to this link.
        var dev = Sh.Must("ip", "netns", "exec", lab.Host, "cat", $"/sys/class/net/{name}/tap{ifindex}/dev").Trim().Split(':');
        var node = Path.Combine(lab.Dir, $"tap{ifindex}");
        Sh.Must("mknod", "-m", "600", node, "c", dev[0], dev[1]);
        return node;
    }
}
