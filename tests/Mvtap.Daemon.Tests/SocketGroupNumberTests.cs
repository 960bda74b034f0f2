// mvtapd --socket-group NUMBER: a number names a group only in 0..4294967294, as an endpoint's
// owner/group does (AccountNumbers); 4294967295 is chown's "leave unchanged", not a group.
using Mvtap.Daemon.Control;

namespace Mvtap.Daemon.Tests;

public class SocketGroupNumberTests
{
    [Fact]
    public void A_socket_group_of_4294967295_names_no_group()
    {
        Assert.Null(SocketAccess.ResolveGroup("4294967295"));
        Assert.Null(SocketAccess.ResolveGroup("4294967296"));
    }

    [Fact]
    public void A_socket_group_number_below_4294967295_is_taken_as_a_gid()
    {
        var resolved = SocketAccess.ResolveGroup("4294967294");
        Assert.NotNull(resolved);
        Assert.Equal(4294967294u, resolved.Value.gid);
    }
}
