// A path looked at through an O_PATH|O_NOFOLLOW handle and then used through that handle
// (/proc/self/fd/N) is what was looked at: the handle on a symlink is the symlink's (refused by
// whoever checks it), and a connect through the handle reaches the socket that was checked even
// after the path was swapped for a symlink to another listener. The swap is made before the
// connect here, deterministically; the race it stands for (a swap between check and connect)
// cannot be timed in a test, which is why the connect never goes by the path.
using System.Net.Sockets;
using Mvtap.Linux.Interop;

namespace Mvtap.Linux.Tests;

public sealed class PathHandleTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mvtap-pathhandle-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Socket Listen(string path)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Bind(new UnixDomainSocketEndPoint(path));
        s.Listen(4);
        return s;
    }

    [Fact]
    public void A_handle_on_a_symlink_is_the_symlinks_not_its_targets()
    {
        string real = Path.Combine(_dir, "real.sock"), link = Path.Combine(_dir, "link.sock");
        using var listener = Listen(real);
        File.CreateSymbolicLink(link, real);
        using var handle = PathHandles.OpenNoFollow(link)!;
        var node = PathHandles.Inspect(handle);
        Assert.True(node.IsSymlink);
        Assert.False(node.IsSocket);
        Assert.Null(PathHandles.OpenNoFollow(Path.Combine(_dir, "nothing")));
    }

    [Fact]
    public void A_connect_through_the_handle_reaches_the_checked_socket_after_the_path_became_a_symlink_elsewhere()
    {
        string path = Path.Combine(_dir, "qemu.sock"), other = Path.Combine(_dir, "other.sock");
        using var checkedListener = Listen(path);
        using var otherListener = Listen(other);
        using var handle = PathHandles.OpenNoFollow(path)!;
        Assert.True(PathHandles.Inspect(handle).IsSocket);

        File.Delete(path);                        // the directory's owner swaps the path...
        File.CreateSymbolicLink(path, other);     // ...for a symlink to another listener

        using var client = UnixSocket.Create();
        Assert.Equal(0, UnixSocket.Connect(client, PathHandles.ProcPath(handle)));
        Assert.True(checkedListener.Poll(5_000_000, SelectMode.SelectRead), "the checked listener got no connection");
        Assert.False(otherListener.Poll(0, SelectMode.SelectRead), "connected to the symlink's target");
    }
}
