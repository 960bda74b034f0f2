// The host port in mvtapd's control plane, on sim lowers in process (issue 14): one per lower and
// none beside passthru, refused with the errno and a message naming the conflict; no mode, no
// namespace, no hostaccess of its own; shown as type host; hostaccess saved and restored with
// the host port itself; a refused request leaves nothing behind.
using Microsoft.Extensions.Logging.Abstractions;
using Mvtap.Control;
using Mvtap.Core.Model;
using Mvtap.Daemon.Links;
using Mvtap.Daemon.State;

namespace Mvtap.Daemon.Tests;

public sealed class HostPortRequestTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mvtapd-hostport-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private LinkRegistry NewRegistry() => new(_ => null, new StateStore(_dir), NullLogger.Instance, _dir);

    private static LinkView Ok(LinkRegistry r, ControlRequest q)
    {
        var resp = r.Handle(q);
        Assert.True(resp.Ok, resp.Error?.Message);
        return resp.Links is { Count: > 0 } links ? links[0] : new LinkView();
    }

    private static ControlError Refused(LinkRegistry r, ControlRequest q, Errno errno)
    {
        var resp = r.Handle(q);
        Assert.False(resp.Ok);
        Assert.Equal((int)errno, resp.Error!.Errno);
        return resp.Error;
    }

    [Fact]
    public void A_lower_takes_one_host_port_and_passthru_excludes_it()
    {
        using var r = NewRegistry();
        var host = Ok(r, new LinkAddRequest { Lower = "sim0", Type = "host" });
        Assert.Equal("mvhost0", host.Name);
        Assert.Equal("host", host.Type);
        Assert.Contains("mvhost0", Refused(r, new LinkAddRequest { Lower = "sim0", Name = "mvhost1", Type = "host" }, Errno.EBUSY).Message);
        Assert.Contains("host port", Refused(r, new LinkAddRequest { Lower = "sim0", Name = "pt", Type = "macvtap", Mode = "passthru" }, Errno.EBUSY).Message);
        Ok(r, new LinkAddRequest { Lower = "sim1", Name = "pt", Type = "macvtap", Mode = "passthru" });
        Assert.Contains("passthru", Refused(r, new LinkAddRequest { Lower = "sim1", Name = "mvhost1", Type = "host" }, Errno.EINVAL).Message);
        Assert.Equal(["mvhost0", "pt"], Ok2(r).Select(l => l.Name));
    }

    [Theory]
    [InlineData("vepa", null, null)]
    [InlineData(null, false, null)]
    [InlineData(null, null, "ns1")]
    public void A_host_port_has_no_mode_hostaccess_or_namespace(string? mode, bool? hostAccess, string? netns)
    {
        using var r = NewRegistry();
        var e = Refused(r, new LinkAddRequest { Lower = "sim0", Name = "mvhost0", Type = "host", Mode = mode, HostAccess = hostAccess, Netns = netns }, Errno.EINVAL);
        Assert.Contains("host port", e.Message);
        Assert.Empty(Ok2(r));
        Ok(r, new LinkAddRequest { Lower = "sim0", Name = "mvhost0", Type = "host" });
        Refused(r, new LinkSetRequest { Name = "mvhost0", HostAccess = false }, Errno.EINVAL);
        Refused(r, new LinkSetRequest { Name = "mvhost0", Mode = "private" }, Errno.EOPNOTSUPP);
    }

    [Fact]
    public void Hostaccess_and_the_host_port_are_saved_and_restored()
    {
        using (var r = NewRegistry())
        {
            Ok(r, new LinkAddRequest { Lower = "sim0", Name = "mvhost0", Type = "host", Address = "1a:46:0b:ca:bc:70", Up = true });
            Ok(r, new LinkAddRequest { Lower = "sim0", Name = "g0", Type = "macvlan", HostAccess = false });
            Assert.True(Ok(r, new LinkSetRequest { Name = "g0", HostAccess = true }).HostAccess);
            Assert.False(Ok(r, new LinkSetRequest { Name = "g0", HostAccess = false }).HostAccess);
        }
        using var again = NewRegistry();
        again.Restore(new StateStore(_dir).Load());
        var host = Ok(again, new LinkShowRequest { Name = "mvhost0" });
        Assert.Equal(("host", "1a:46:0b:ca:bc:70", true), (host.Type, host.Mac, host.AdminUp));
        Assert.False(Ok(again, new LinkShowRequest { Name = "g0" }).HostAccess);
    }

    private static IReadOnlyList<LinkView> Ok2(LinkRegistry r) => r.Handle(new LinkShowRequest()).Links!;
}
