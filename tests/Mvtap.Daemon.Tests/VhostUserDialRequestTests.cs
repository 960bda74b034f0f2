// `link add ... vhost-user connect PATH` in mvtapd's control plane, on sim lowers in process:
// what is refused (in ip's words, with the errno) before anything is made, so that a user of
// the control socket cannot point root at a socket of someone else's; what is taken is saved,
// shown and restored with its role; and an owner change of a dialling endpoint by a user other
// than root may only name that user.
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Mvtap.Control;
using Mvtap.Core.Model;
using Mvtap.Daemon.Links;
using Mvtap.Daemon.State;
using Mvtap.Linux.Interop;

namespace Mvtap.Daemon.Tests;

public sealed class VhostUserDialRequestTests : IDisposable
{
    private const uint User = 4242;
    private readonly string _dir = Directory.CreateTempSubdirectory("mvtapd-dial-").FullName;
    private readonly List<Socket> _sockets = [];

    public void Dispose()
    {
        foreach (var s in _sockets) s.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private LinkRegistry NewRegistry() => new(_ => null, new StateStore(Path.Combine(_dir, "state")), NullLogger.Instance, _dir);

    private static LinkAddRequest Dial(string? path, string? owner = null, string type = "macvtap", string mode = VhostUserModes.Connect) =>
        new() { Lower = "sim0", Name = "d0", Type = type, VhostUserMode = mode, VhostUserPath = path, Owner = owner };

    /// <summary>A listening socket file at <paramref name="name"/> owned by <paramref name="uid"/>.</summary>
    private string SocketFile(string name, int uid)
    {
        string path = Path.Combine(_dir, name);
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Bind(new UnixDomainSocketEndPoint(path));
        s.Listen(1);
        _sockets.Add(s);
        UnixSocket.SetOwner(path, uid, uid);
        return path;
    }

    [Fact]
    public void What_would_point_mvtapd_at_a_socket_not_its_owners_is_refused_and_leaves_nothing_behind()
    {
        string file = Path.Combine(_dir, "file");
        File.WriteAllText(file, "not a socket");
        string others = SocketFile("others.sock", 3000);
        string roots = SocketFile("roots.sock", 0);
        string link = Path.Combine(_dir, "link.sock");
        File.CreateSymbolicLink(link, roots);
        string later = Path.Combine(_dir, "later.sock");
        (LinkAddRequest Request, uint Client, Errno Errno, string Words)[] refused =
        [
            (Dial(null), 0, Errno.EINVAL, "Not enough information: \"vhost-user connect\" argument is required"),
            (Dial(later, mode: "dial"), 0, Errno.EINVAL, "vhost-user \"dial\" is unknown: use listen or connect"),
            (Dial(later, type: "macvlan"), 0, Errno.EINVAL, "only a macvtap endpoint has a vhost-user socket"),
            (Dial("relative.sock"), 0, Errno.EINVAL, "is not an absolute, normalised path"),
            (Dial(_dir + "/../x.sock"), 0, Errno.EINVAL, "is not an absolute, normalised path"),
            (Dial("/" + new string('a', 120)), 0, Errno.EINVAL, "longer than 107 bytes"),
            (Dial(file), 0, Errno.EINVAL, "is not a socket"),
            (Dial(link), 0, Errno.EINVAL, "is not a socket (a symlink is not followed)"),
            (Dial(others, owner: "1000"), 0, Errno.EPERM, "Operation not permitted: " + others + " belongs to uid 3000"),
            // a user of the control socket: only for itself, and never at root's own sockets
            (Dial(later), User, Errno.EPERM, "owner must be the requesting user (uid 4242)"),
            (Dial(later, owner: "3000"), User, Errno.EPERM, "owner must be the requesting user (uid 4242)"),
            (Dial(roots, owner: $"{User}"), User, Errno.EPERM, "belongs to uid 0, not to the endpoint's owner (4242)"),
        ];
        using var r = NewRegistry();
        foreach (var (request, client, errno, words) in refused)
        {
            var resp = r.Handle(request, client);
            Assert.False(resp.Ok, $"{request.VhostUserPath} was taken");
            Assert.True(resp.Error!.Errno == (int)errno, $"{request.VhostUserPath}: {resp.Error.Errno} {resp.Error.Message}");
            Assert.Contains(words, resp.Error.Message);
        }
        Assert.Empty(r.Handle(new LinkShowRequest()).Links!);
        Assert.False(File.Exists(Path.Combine(_dir, "state", "state.json")) && File.ReadAllText(Path.Combine(_dir, "state", "state.json")).Contains("d0"));
        Assert.Equal("not a socket", File.ReadAllText(file));
    }

    [Fact]
    public void A_dialling_endpoint_is_saved_shown_and_restored_with_its_role()
    {
        string roots = SocketFile("qemu.sock", 0);
        string mine = Path.Combine(_dir, "mine.sock");
        using (var r = NewRegistry())
        {
            var byRoot = r.Handle(Dial(roots, owner: "1000") with { Name = "d0" });
            Assert.True(byRoot.Ok, byRoot.Error?.Message);
            var byUser = r.Handle(Dial(mine, owner: $"{User}") with { Name = "d1" }, User);
            Assert.True(byUser.Ok, byUser.Error?.Message);
            var listen = r.Handle(new LinkAddRequest { Lower = "sim0", Name = "d2", Type = "macvtap", VhostUserMode = VhostUserModes.Listen });
            Assert.True(listen.Ok, listen.Error?.Message);
            Assert.Equal(VhostUserModes.Listen, listen.Links![0].VhostUserMode);
        }
        var state = File.ReadAllText(Path.Combine(_dir, "state", "state.json"));
        Assert.Contains("\"vhost_user_mode\": \"connect\"", state);
        Assert.Contains("\"vhost_user_root_peer\": false", state);
        using (var r = NewRegistry())
        {
            r.Restore(new StateStore(Path.Combine(_dir, "state")).Load());
            var links = r.Handle(new LinkShowRequest()).Links!;
            Assert.Equal(3, links.Count);
            Assert.Equal((VhostUserModes.Connect, roots), (links[0].VhostUserMode, links[0].VhostUserPath));
            Assert.Equal((VhostUserModes.Connect, mine), (links[1].VhostUserMode, links[1].VhostUserPath));
            Assert.Equal(VhostUserModes.Listen, links[2].VhostUserMode);
            // the restored user's endpoint still serves only its owner
            Assert.Contains("\"vhost_user_root_peer\": false", File.ReadAllText(Path.Combine(_dir, "state", "state.json")));
            // a second endpoint on the same socket is refused
            var twice = r.Handle(Dial(roots) with { Name = "d3" });
            Assert.True(twice.Error?.Errno == (int)Errno.EEXIST, twice.Error?.Message ?? "taken");
        }
    }

    [Fact]
    public void Only_root_gives_a_dialling_endpoint_another_owner()
    {
        using var r = NewRegistry();
        Assert.True(r.Handle(Dial(Path.Combine(_dir, "q.sock"), owner: $"{User}"), User).Ok);
        var other = r.Handle(new LinkSetRequest { Name = "d0", Owner = "3000" }, User);
        Assert.Equal((int)Errno.EPERM, other.Error!.Errno);
        Assert.Contains("owner must be the requesting user", other.Error.Message);
        Assert.Equal($"{User}", r.Handle(new LinkShowRequest { Name = "d0" }).Links![0].Owner);
        Assert.True(r.Handle(new LinkSetRequest { Name = "d0", Owner = $"{User}" }, User).Ok);
        Assert.True(r.Handle(new LinkSetRequest { Name = "d0", Owner = "3000" }, 0).Ok);
    }
}
