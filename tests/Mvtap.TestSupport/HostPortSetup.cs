// The host port as the host-port tests set it up: `mvtap link add link LOWER name mvhost0 type host
// up` through the test's mvtapd, then an address on the interface in mvtapd's namespace (the host's)
// and the interface up, as README tells an operator to do.
namespace Mvtap.TestSupport;

public static class HostPortSetup
{
    public const string Name = "mvhost0";

    /// <summary>Adds the host port on <paramref name="lower"/> and gives it <paramref name="cidr"/>
    /// (ADDR/LEN) in <paramref name="hostNetns"/>, mvtapd's namespace.</summary>
    public static void Add(MvtapdProcess daemon, string hostNetns, string lower, string cidr)
    {
        daemon.MustCli("link", "add", "link", lower, "name", Name, "type", "host", "up");
        Sh.Ip("-n", hostNetns, "addr", "add", cidr, "dev", Name);
        Sh.Ip("-n", hostNetns, "link", "set", Name, "up");
    }
}
