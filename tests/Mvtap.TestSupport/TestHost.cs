// The one answer to "do these tests run as root?" (the effective user id, as the kernel sees it),
// for every test that builds namespaces and interfaces or opens devices. CI runs as root.
namespace Mvtap.TestSupport;

public static class TestHost
{
    public static bool IsRoot => Mvtap.Linux.Interop.Identity.IsRoot;
}
