// The datapath side of an endpoint reached through an AF_PACKET socket on an interface the
// datapath owns (a veth's outer end, a TAP's network side): one recvmmsg per batch into the
// datapath's shared receive slots, one sendmmsg per flush from a preallocated transmit batch.
// Frames carry the 10-byte vnet header, so offloads pass through unchanged.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Linux.Interop;

namespace Mvtap.Linux.Datapath;

internal sealed class PacketSocketIo(PacketSocket socket, Endpoint endpoint) : IDisposable
{
    private const int VnetSize = PacketAbi.VirtioNetHdrSize;
    private FrameBatch? _tx;
    private LowerDatapath? _datapath;

    public PacketSocket Socket { get; } = socket;
    public bool ReceivePending { get; private set; }

    /// <summary>Allocates the transmit batch while served, frees it when let go (datapath thread).</summary>
    public void SetDatapath(LowerDatapath? datapath)
    {
        _datapath = datapath;
        if (datapath is not null) _tx ??= new FrameBatch(LowerDatapath.EndpointBatchSize, PacketLower.SlotSize);
        else
        {
            _tx?.Dispose();
            _tx = null;
        }
    }

    public int GetPollFds(Span<int> fds)
    {
        fds[0] = Socket.Handle.Fd;
        return 1;
    }

    public int ReceiveBatch(FrameBatch scratch)
    {
        int n = BatchIo.Receive(Socket, scratch, out _);
        // A full batch means more may be queued; level-triggered epoll would say so too, but
        // asking again before sleeping saves the epoll_wait round trip.
        ReceivePending = n == scratch.Capacity;
        return n;
    }

    public ReceivedFrame GetFrame(int i, FrameBatch scratch, out ReadOnlySpan<byte> frame, out VirtioNetHeader vnet) =>
        Classify(scratch, i, _datapath?.Stats, out frame, out vnet);

    /// <summary>Shared with the lower's own socket: ignore our own transmissions, drop what the kernel cut.</summary>
    internal static ReceivedFrame Classify(FrameBatch batch, int i, DatapathStats? stats, out ReadOnlySpan<byte> frame, out VirtioNetHeader vnet)
    {
        frame = default;
        vnet = default;
        // Ignore-outgoing is set on every socket; checking the type as well keeps a socket
        // without it from feeding our own transmissions back in (a forwarding loop).
        if (batch.PacketType(i) == PacketAbi.PACKET_OUTGOING) return ReceivedFrame.Ignore;
        if (batch.Truncated(i))
        {
            if (stats is not null) stats.truncated++;
            return ReceivedFrame.Malformed;
        }
        var data = batch.Frame(i);
        if (data.Length < VnetSize) return ReceivedFrame.Malformed;
        vnet = VirtioNetHeader.Read(data[..VnetSize]);
        if (vnet.IsGso && stats is not null) stats.gsoFrames++;
        frame = data[VnetSize..];
        return ReceivedFrame.Frame;
    }

    public void Deliver(in Packet packet)
    {
        var tx = _tx;
        if (tx is null) { endpoint.Counters.CountRxDrop(DropReason.EndpointGone); return; }
        if (tx.Count == tx.Capacity) Flush();
        if (!Append(tx, packet)) endpoint.Counters.CountRxDrop(DropReason.AttachmentError);
    }

    public void Flush()
    {
        if (_tx is { Count: > 0 } tx && _datapath is { } dp) dp.SendBatch(Socket, tx, endpoint);
    }

    internal static bool Append(FrameBatch batch, in Packet packet)
    {
        int length = VnetSize + packet.Length;
        if (length > batch.SlotSize) return false;
        var slot = batch.Reserve();
        packet.Vnet.Write(slot[..VnetSize]); // exactly 10 bytes: the socket's header size
        packet.Frame.CopyTo(slot[VnetSize..]);
        batch.Commit(length);
        return true;
    }

    public void Dispose()
    {
        _tx?.Dispose();
        _tx = null;
    }
}
