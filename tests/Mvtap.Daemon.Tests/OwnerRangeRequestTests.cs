// An endpoint's owner or group sent straight to the control socket (any client can) as a number
// that names no account: 4294967295 is (uid_t)-1, "leave unchanged" to chown and no user to the
// kernel (TUNSETOWNER refuses it); one past 32 bits names none either. mvtapd refuses them in
// ip's words for a bad user or group (EINVAL) and leaves nothing behind; 4294967294 is a uid.
using Mvtap.Control;
using Mvtap.Core.Model;

namespace Mvtap.Daemon.Tests;

public sealed class OwnerRangeRequestTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("mvtapd-owner-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static void Refused(ControlResponse response, string message)
    {
        Assert.False(response.Ok);
        Assert.Equal((int)Errno.EINVAL, response.Error!.Errno);
        Assert.Equal(message, response.Error.Message);
    }

    [Fact]
    public void Owner_or_group_numbers_that_name_no_account_are_refused_and_leave_nothing_behind()
    {
        using var d = new MvtapdProcess(Path.Combine(_root, "run"), Path.Combine(_root, "state"));
        d.StartAndWait();
        foreach (var bad in new[] { "4294967295", "4294967296", "99999999999" })
        {
            Refused(RawControl.Send(d.SocketPath, new LinkAddRequest { Lower = "sim0", Name = "o0", Type = "macvtap", Owner = bad }), $"invalid user \"{bad}\"");
            Refused(RawControl.Send(d.SocketPath, new LinkAddRequest { Lower = "sim0", Name = "o0", Type = "macvtap", Group = bad }), $"invalid group \"{bad}\"");
        }
        Assert.Empty(RawControl.Send(d.SocketPath, new LinkShowRequest()).Links!);

        Assert.True(RawControl.Send(d.SocketPath, new LinkAddRequest { Lower = "sim0", Name = "o1", Type = "macvtap", Owner = "4294967294", Group = "4294967294" }).Ok);
        Refused(RawControl.Send(d.SocketPath, new LinkSetRequest { Name = "o1", Owner = "4294967295" }), "invalid user \"4294967295\"");
        Refused(RawControl.Send(d.SocketPath, new LinkSetRequest { Name = "o1", Group = "4294967295" }), "invalid group \"4294967295\"");
        var link = Assert.Single(RawControl.Send(d.SocketPath, new LinkShowRequest()).Links!);
        Assert.Equal(("4294967294", "4294967294"), (link.Owner, link.Group));
    }
}
