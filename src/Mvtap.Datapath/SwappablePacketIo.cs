// The packet socket on a TAP's network side, as an attachment that may get a new one while the
// datapath thread serves it holds it (a tap relay's TAP for the next guest, a persistent TAP made
// again after somebody deleted it): the control side offers the new socket from any thread and
// asks for a resync; the datapath thread takes it over at its next GetPollFds, closing the old
// one there, so no socket is closed under the loop.
using Mvtap.Linux;

namespace Mvtap.Datapath;

internal sealed class SwappablePacketIo(IEndpointAttachment owner) : IDisposable
{
    private PacketSocketIo? _io;          // datapath thread
    private PacketSocket? _offered;       // offered by the control side, taken by the datapath thread
    private LowerDatapath? _datapath;

    /// <summary>The socket the datapath thread reads and writes now (datapath thread).</summary>
    public PacketSocketIo? Current => _io;
    /// <summary>A socket is in use or offered.</summary>
    public bool HasSocket => Volatile.Read(ref _io) is not null || Volatile.Read(ref _offered) is not null;

    /// <summary>Hands a new socket over (any thread); it is ours from here on.</summary>
    public void Offer(PacketSocket socket)
    {
        Interlocked.Exchange(ref _offered, socket)?.Dispose();
        Volatile.Read(ref _datapath)?.RequestResync(owner);
    }

    /// <summary>The owner's SetDatapath; returns true when letting go closed the socket in use.</summary>
    public bool SetDatapath(LowerDatapath? datapath)
    {
        Volatile.Write(ref _datapath, datapath);
        _io?.SetDatapath(datapath);
        return datapath is null && Close();
    }

    /// <summary>The owner's GetPollFds: takes over an offered socket first (after closing the old one).</summary>
    public int GetPollFds(Span<int> fds)
    {
        if (Interlocked.Exchange(ref _offered, null) is { } socket)
        {
            Close();
            var io = new PacketSocketIo(socket, owner.Endpoint);
            io.SetDatapath(_datapath);
            Volatile.Write(ref _io, io);
        }
        return _io is { } current ? current.GetPollFds(fds) : 0;
    }

    /// <summary>Closes the socket in use (datapath thread, or after the datapath let go); false when there was none.</summary>
    public bool Close()
    {
        if (_io is not { } io) return false;
        Volatile.Write(ref _io, null);
        _datapath?.Unwatch(owner, io.Socket.Handle.Fd);
        io.Socket.Dispose();
        io.Dispose();
        return true;
    }

    public void Dispose()
    {
        Close();
        Interlocked.Exchange(ref _offered, null)?.Dispose();
    }
}
