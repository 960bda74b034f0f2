// The CNI metadata in mvtapd's control plane, on sim lowers in process: an endpoint remembers the
// attachment that made it across a restart (what DEL, CHECK and GC find it by), one attachment
// gets one endpoint, a persistent TAP carrier is refused as not supported yet, a vhost-user
// socket path is only taken where nobody else can swap it, and an endpoint that could not be
// restored (its container's namespace went) is still deleted by name.
using Microsoft.Extensions.Logging.Abstractions;
using Mvtap.Control;
using Mvtap.Daemon.Links;
using Mvtap.Daemon.State;
using Mvtap.Core.Model;

namespace Mvtap.Daemon.Tests;

public sealed class CniAttachmentRegistryTests : IDisposable
{
    private static readonly CniAttachment Who = new() { ContainerId = "c0ffee", IfName = "eth0", Network = "net1" };
    private readonly string _dir = Directory.CreateTempSubdirectory("mvtapd-cni-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private LinkRegistry NewRegistry() => new(_ => null, new StateStore(_dir), NullLogger.Instance, _dir);

    [Fact]
    public void The_attachment_is_shown_and_comes_back_after_a_restart()
    {
        using (var r = NewRegistry())
        {
            var added = r.Handle(new LinkAddRequest { Lower = "sim0", Name = "cni1", Type = "macvtap", Cni = Who });
            Assert.True(added.Ok, added.Error?.Message);
            Assert.Equal(Who, added.Links![0].Cni);
        }
        using var again = NewRegistry();
        again.Restore(new StateStore(_dir).Load());
        Assert.Equal(Who, again.Handle(new LinkShowRequest { Name = "cni1" }).Links![0].Cni);
    }

    [Fact]
    public void One_attachment_gets_one_endpoint_and_a_bad_attachment_is_refused()
    {
        using var r = NewRegistry();
        Assert.True(r.Handle(new LinkAddRequest { Lower = "sim0", Name = "cni1", Type = "macvtap", Cni = Who }).Ok);
        var twice = r.Handle(new LinkAddRequest { Lower = "sim0", Name = "cni2", Type = "macvtap", Cni = Who });
        Assert.Equal((int)Errno.EEXIST, twice.Error!.Errno);
        Assert.Contains("cni1", twice.Error.Message);
        var empty = r.Handle(new LinkAddRequest { Lower = "sim0", Name = "cni3", Type = "macvtap", Cni = Who with { IfName = "" } });
        Assert.Equal((int)Errno.EINVAL, empty.Error!.Errno);
        var control = r.Handle(new LinkAddRequest { Lower = "sim0", Name = "cni4", Type = "macvtap", Cni = Who with { ContainerId = "a\nb" } });
        Assert.Equal((int)Errno.EINVAL, control.Error!.Errno);
        Assert.Single(r.Handle(new LinkShowRequest()).Links!);
    }

    [Fact]
    public void A_persistent_tap_carrier_is_refused_on_a_lower_that_carries_no_guest_and_leaves_nothing()
    {
        using var r = NewRegistry();
        var tap = r.Handle(new LinkAddRequest { Lower = "sim0", Name = "cni1", Type = "macvtap", TapName = "eth0", Cni = Who });
        Assert.Equal((int)Errno.EOPNOTSUPP, tap.Error!.Errno);
        Assert.Contains("only a packet lower carries a guest through a TAP", tap.Error.Message);
        Assert.Empty(r.Handle(new LinkShowRequest()).Links!);
    }

    [Fact]
    public void A_tap_carrier_is_refused_for_a_macvlan_a_template_name_or_with_a_vhost_user_socket()
    {
        using var r = NewRegistry();
        foreach (var bad in new[]
        {
            new LinkAddRequest { Lower = "sim0", Name = "t1", Type = "macvlan", TapName = "eth0" },
            new LinkAddRequest { Lower = "sim0", Name = "t2", Type = "macvtap", TapName = "tap%d" },
            new LinkAddRequest { Lower = "sim0", Name = "t3", Type = "macvtap", TapName = "eth0", VhostUserPath = "/run/x.sock" },
        })
            Assert.Equal((int)Errno.EINVAL, r.Handle(bad).Error!.Errno);
        Assert.Empty(r.Handle(new LinkShowRequest()).Links!);
    }

    [Fact]
    public void A_vhost_user_path_is_taken_only_in_a_directory_nobody_else_can_write_to()
    {
        using var r = NewRegistry();
        string open = Path.Combine(_dir, "open"), closed = Path.Combine(_dir, "closed");
        Directory.CreateDirectory(open);
        File.SetUnixFileMode(open, (UnixFileMode)0x1ff); // 0777
        Directory.CreateDirectory(closed);
        File.SetUnixFileMode(closed, (UnixFileMode)0x1ed); // 0755
        File.WriteAllText(Path.Combine(closed, "file"), "not a socket");
        (string Path, int Errno)[] refused =
        [
            (Path.Combine(open, "s.sock"), 1),           // EPERM: others may swap it
            ("relative/s.sock", 22),
            (Path.Combine(closed, "..", "s.sock"), 22),
            (Path.Combine(closed, "file"), 17),           // EEXIST: not a socket, never deleted
            (Path.Combine(closed, new string('x', 120)), 22),
            (Path.Combine(_dir, "missing", "s.sock"), 2),
        ];
        foreach (var (path, errno) in refused)
        {
            var resp = r.Handle(new LinkAddRequest { Lower = "sim0", Name = "v0", Type = "macvtap", VhostUserPath = path });
            Assert.True(resp.Error?.Errno == errno, $"{path}: {resp.Error?.Errno} {resp.Error?.Message}");
        }
        Assert.Equal("not a socket", File.ReadAllText(Path.Combine(closed, "file")));
        var macvlan = r.Handle(new LinkAddRequest { Lower = "sim0", Name = "v0", Type = "macvlan", VhostUserPath = Path.Combine(closed, "s.sock") });
        Assert.Equal((int)Errno.EINVAL, macvlan.Error!.Errno);
        var ok = r.Handle(new LinkAddRequest { Lower = "sim0", Name = "v0", Type = "macvtap", VhostUserPath = Path.Combine(closed, "s.sock") });
        Assert.True(ok.Ok, ok.Error?.Message);
        Assert.Empty(r.Handle(new LinkShowRequest()).Links!.Skip(1));
    }

    [Fact]
    public void An_endpoint_that_could_not_be_restored_is_deleted_by_name()
    {
        var store = new StateStore(_dir);
        store.Save(new DaemonState
        {
            NextIndex = 4,
            Endpoints = [new EndpointState { Index = 3, Name = "cni3", Type = "macvlan", Lower = "eth-missing", Mac = "1a:00:00:00:00:03", Netns = "gone", Cni = Who }],
        });
        using var r = NewRegistry();
        r.Restore(store.Load());
        Assert.True(r.Handle(new LinkDelRequest { Name = "cni3" }).Ok);
        Assert.DoesNotContain(store.Load().Endpoints, e => e.Name == "cni3");
        Assert.Equal((int)Errno.ENODEV, r.Handle(new LinkDelRequest { Name = "cni3" }).Error!.Errno); // gone now
    }
}
