// The owner of a macvtap endpoint (uid 65534, in a process of its own) attacks the daemon
// through tapN.vhost: guest memory in a memfd not sealed against shrinking, rings started, the
// memfd truncated to nothing, then a kick. By default (guestmem sealed) the memory is refused
// before it is mapped: the frontend sees its session closed and the refusal is logged. With the
// endpoint's explicit allowance (guestmem any) the memory is mapped and the truncation makes the
// daemon touch pages that are gone (SIGBUS): mvtapd contains it (GuestMemoryFaults: the device
// is marked broken, the session closed), twice in a row. Either way the daemon and the other
// endpoints (two stream guests exchanging frames, a macvlan guest pinging the external host) go on.
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
        using var others = new OtherGuests(lab);

        using var nobody = new NobodyProgram();
        var (status, output) = nobody.Run(FrontendTimeout, "truncating-frontend", lab.VhostPath(v));

        Assert.True(status == TruncatingFrontend.Refused, $"exit {status}:\n{output}\n--- mvtapd:\n{lab.Daemon.Output}");
        Assert.Contains("backend closed the connection", output);
        Assert.False(lab.Daemon.HasExited, lab.Daemon.Output);
        Assert.Contains("not sealed against shrinking", lab.Daemon.Output);
        others.StillServed();
        Assert.Equal(0, lab.Daemon.Cli("link", "show", "gmv").Status);
    }

    [Fact]
    public void With_guestmem_any_the_same_attack_is_contained_and_the_daemon_and_other_endpoints_go_on()
    {
        using var lab = new MacvtapLab();
        int v = lab.AddMacvtap("gmv", MacV, "owner", "65534", "group", "65534", "guestmem", "any");
        using var others = new OtherGuests(lab);

        using var nobody = new NobodyProgram();
        for (int attack = 1; attack <= 2; attack++)
        {
            var (status, output) = nobody.Run(FrontendTimeout, "truncating-frontend", lab.VhostPath(v));
            Assert.True(status == 0, $"attack {attack}: exit {status}:\n{output}\n--- mvtapd:\n{lab.Daemon.Output}");
            Assert.Contains("memory table accepted", output);
            Assert.Contains("truncated and kicked", output);
            Assert.Contains("backend closed the connection", output);
            Assert.False(lab.Daemon.HasExited, $"attack {attack} killed mvtapd:\n{lab.Daemon.Output}");
            others.StillServed();
        }
        Assert.Contains("guest memory vanished under its mapping", lab.Daemon.Output);
        Assert.DoesNotContain("Fatal error", lab.Daemon.Output);
        Assert.Equal(0, lab.Daemon.Cli("link", "show", "gmv").Status);
    }

    /// <summary>Two stream guests on bridge endpoints and a macvlan guest, served throughout.</summary>
    private sealed class OtherGuests : IDisposable
    {
        private readonly MacvtapLab _lab;
        private readonly System.Net.Sockets.Socket _a, _b;
        private readonly string _guest;
        private byte _seed;

        public OtherGuests(MacvtapLab lab)
        {
            _lab = lab;
            int a = lab.AddMacvtap("gma", MacA);
            int b = lab.AddMacvtap("gmb", MacB);
            _guest = lab.AddMacvlanGuest("gml", MacL);
            _a = Connect(lab.StreamPath(a));
            _b = Connect(lab.StreamPath(b));
            StillServed();
        }

        public void StillServed()
        {
            Exchange(_a, _b, Frame(100, MacB, MacA, ++_seed));
            Exchange(_b, _a, Frame(1514, MacA, MacB, ++_seed));
            Assert.True(_lab.PingsExternal(_guest), "the macvlan guest does not reach the external host");
        }

        public void Dispose()
        {
            _a.Dispose();
            _b.Dispose();
        }
    }
}
