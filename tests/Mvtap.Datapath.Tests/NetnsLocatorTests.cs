// Which namespaces mvtap can follow a lower into: those bind-mounted anywhere (the names of
// `ip netns`, a container runtime's mounts, found in mountinfo, mount points with spaces
// unescaped) and those of running processes; a namespace held only by a descriptor is not among them.
using Mvtap.Datapath;
using Mvtap.Linux;

namespace Mvtap.Datapath.Tests;

public sealed class NetnsLocatorTests
{
    [Fact]
    public void Named_and_bind_mounted_namespaces_and_the_processes_ones_are_reachable_and_a_held_one_is_not()
    {
        using var named = new TestNamespace();
        using var fd = NetNamespace.Open(named.Name);
        string id = NetNamespace.IdOf(fd);
        Assert.StartsWith("net:[", id);
        var dir = Directory.CreateTempSubdirectory("mvtap-netns-");
        string mount = Path.Combine(dir.FullName, "a runtime's ns");
        File.WriteAllText(mount, "");
        try
        {
            TestNet.Run("mount", "--bind", Path.Combine(NetNamespace.RunDirectory, named.Name), mount);
            try
            {
                var reachable = NetnsLocator.Reachable();
                Assert.Contains(reachable, r => r.Id == id && r.Label == named.Name); // by its name first
                Assert.Contains(reachable, r => r.Id == NetNamespace.CurrentId());
                TestNet.Ip("netns", "del", named.Name);
                Assert.Contains(NetnsLocator.Reachable(), r => r.Id == id && r.Path == mount && r.Label == mount);
            }
            finally
            {
                TestNet.Run("umount", mount);
            }
            Assert.DoesNotContain(NetnsLocator.Reachable(), r => r.Id == id); // held by the descriptor alone
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
