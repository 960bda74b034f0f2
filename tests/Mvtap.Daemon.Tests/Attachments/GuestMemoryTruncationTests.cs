// The owner of a macvtap endpoint (uid 65534, in a process of its own) attacks the daemon
// through tapN.vhost: guest memory in a memfd not sealed against shrinking, rings started, the
// memfd truncated to nothing, then a kick. By default (guestmem sealed) the memory is refused
// before it is mapped: the frontend sees its session closed, the refusal is logged, and the
// daemon and the other endpoints (two stream guests exchanging frames, a macvlan guest pinging
// the external host) go on. With the endpoint's explicit allowance (guestmem any) the memory is
// mapped, and the risk README and `mvtap link help` state is real: the truncation kills mvtapd.
using Mvtap.Daemon.Tests.Nobody;
using static Mvtap.Tests.Stream.StreamClient;

namespace Mvtap.Daemon.Tests.Attachments;

public sealed class GuestMemoryTruncationTests
{
    private const string MacV = "02:4d:56:00:04:01", MacA = "02:4d:56:00:04:0a", MacB = "02:4d:56:00:04:0b", MacL = "02:4d:56:00:04:0c";
    private static readonly TimeSpan FrontendTimeout = TimeSpan.FromSeconds(120);

    [Fact]
    public void By_default_an_owner_truncating_unsealed_guest_memory_is_refused_and_the_daemon_and_other_endpoints_go_on()
    {
        using var lab = new MacvtapLab();
        int v = lab.AddMacvtap("gmv", MacV, "owner", "65534", "group", "65534");
        int a = lab.AddMacvtap("gma", MacA);
        int b = lab.AddMacvtap("gmb", MacB);
        string guest = lab.AddMacvlanGuest("gml", MacL);
        using var ga = Connect(lab.StreamPath(a));
        using var gb = Connect(lab.StreamPath(b));
        Exchange(ga, gb, Frame(60, MacB, MacA, 1));
        Assert.True(lab.PingsExternal(guest), "the macvlan guest does not reach the external host");

        using var nobody = new NobodyProgram();
        var (status, output) = nobody.Run(FrontendTimeout, "truncating-frontend", lab.VhostPath(v));

        Assert.True(status == TruncatingFrontend.Refused, $"exit {status}:\n{output}\n--- mvtapd:\n{lab.Daemon.Output}");
        Assert.Contains("backend closed the connection", output);
        Assert.False(lab.Daemon.HasExited, lab.Daemon.Output);
        Assert.Contains("not sealed against shrinking", lab.Daemon.Output);
        Exchange(ga, gb, Frame(100, MacB, MacA, 2));
        Exchange(gb, ga, Frame(1514, MacA, MacB, 3));
        Assert.True(lab.PingsExternal(guest), "the macvlan guest lost the external host");
        Assert.Equal(0, lab.Daemon.Cli("link", "show", "gmv").Status);
    }

    [Fact]
    public void With_guestmem_any_the_same_owner_kills_the_daemon_as_documented()
    {
        using var lab = new MacvtapLab();
        int v = lab.AddMacvtap("gmv", MacV, "owner", "65534", "group", "65534", "guestmem", "any");

        using var nobody = new NobodyProgram();
        var (status, output) = nobody.Run(FrontendTimeout, "truncating-frontend", lab.VhostPath(v));

        Assert.True(status == 0, $"exit {status}:\n{output}\n--- mvtapd:\n{lab.Daemon.Output}");
        Assert.Contains("memory table accepted", output);
        Assert.Contains("truncated and kicked", output);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!lab.Daemon.HasExited && DateTime.UtcNow < deadline) Thread.Sleep(100);
        Assert.True(lab.Daemon.HasExited, "mvtapd survived the truncation: update README and the help text\n" + lab.Daemon.Output);
        Assert.Contains("AccessViolationException", lab.Daemon.Output);
    }
}
