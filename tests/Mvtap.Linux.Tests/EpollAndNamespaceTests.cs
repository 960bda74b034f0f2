// epoll + eventfd wake-ups and switching the calling thread between network namespaces.
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;
using Mvtap.Core.Model;

namespace Mvtap.Linux.Tests;

public sealed class EpollTests
{
    [Fact]
    public void EventFdSignalWakesEpollWithItsData()
    {
        using var epoll = new Epoll();
        using var efd = EventFd.Create();
        epoll.Add(efd.Fd, EpollSyscalls.EPOLLIN, 42);
        Span<EpollEvent> events = stackalloc EpollEvent[4];
        Assert.Equal(0, epoll.Wait(events, 0));

        var t = new Thread(() => EventFd.Signal(efd.Fd, 3));
        t.Start();
        int n = epoll.Wait(events, 5000);
        t.Join();
        Assert.Equal(1, n);
        Assert.Equal(42UL, events[0].Data);
        Assert.True((events[0].Events & EpollSyscalls.EPOLLIN) != 0);
        Assert.Equal(3UL, EventFd.Drain(efd.Fd));
        Assert.Equal(0, epoll.Wait(events, 0));

        epoll.Remove(efd.Fd);
        EventFd.Signal(efd.Fd);
        Assert.Equal(0, epoll.Wait(events, 0));
    }
}

public sealed class NetNamespaceTests : IDisposable
{
    private readonly TestNamespace _ns = new();

    public void Dispose() => _ns.Dispose();

    [Fact]
    public void RunSwitchesTheThreadAndSwitchesBack()
    {
        string before = NetNamespace.CurrentId();
        string inside = NetNamespace.Run(_ns.Name, NetNamespace.CurrentId);
        Assert.NotEqual(before, inside);
        Assert.Equal(before, NetNamespace.CurrentId());
        Assert.Equal(inside, NetNamespace.Run(_ns.Name, NetNamespace.CurrentId));
    }

    [Fact]
    public void RunSwitchesBackAfterAnException()
    {
        string before = NetNamespace.CurrentId();
        Assert.Throws<InvalidOperationException>(() => NetNamespace.Run(_ns.Name, () => throw new InvalidOperationException()));
        Assert.Equal(before, NetNamespace.CurrentId());
    }

    [Fact]
    public void ASocketOpenedInsideStaysInside()
    {
        using var rt = Rtnetlink.InNamespace(_ns.Name);
        rt.CreateLink(new LinkRequest { Name = "nsv0", Kind = "veth", VethPeer = new LinkRequest { Name = "nsv1" } });
        Assert.Equal(["lo", "nsv0", "nsv1"], rt.GetLinks().Select(l => l.Name).Order());
        using var host = new Rtnetlink();
        Assert.Null(host.GetLink("nsv0"));
    }

    [Fact]
    public void UnknownNamespaceIsAnError()
    {
        var e = Assert.Throws<SystemCallException>(() => NetNamespace.Run("mvtl-none-" + TestNet.Suffix(), () => 0));
        Assert.Equal((int)Errno.ENOENT, e.Errno);
    }
}
