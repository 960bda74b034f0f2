// The datapath side of an endpoint reached through an AF_PACKET socket on an interface the
// datapath owns (a veth's outer end, a TAP's network side): batches read in place from the
// socket's frame ring (RingReceiver), one sendmmsg per flush from a preallocated transmit batch.
// Frames carry the 10-byte vnet header, so offloads pass through unchanged.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Linux;
using Mvtap.Linux.Interop;

namespace Mvtap.Datapath;

internal sealed class PacketSocketIo(PacketSocket socket, Endpoint endpoint) : IDisposable
{
    private const int VnetSize = PacketAbi.VirtioNetHdrSize;
    private readonly RingReceiver _rx = new(socket);
    private SocketFrameBatch? _tx;
    private LowerDatapath? _datapath;

    public PacketSocket Socket { get; } = socket;
    /// <summary>Frames left in the ring: read again before sleeping (one memory read to know).</summary>
    public bool ReceivePending => _rx.Pending;

    /// <summary>Allocates the transmit batch while served, frees it when let go (datapath thread).</summary>
    public void SetDatapath(LowerDatapath? datapath)
    {
        _datapath = datapath;
        if (datapath is not null) _tx ??= new SocketFrameBatch(LowerDatapath.EndpointBatchSize, PacketLower.SlotSize);
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

    public int ReceiveBatch(SocketFrameBatch scratch) => _rx.Receive(scratch);

    public ReceivedFrame GetFrame(int i, SocketFrameBatch scratch, out ReadOnlySpan<byte> frame, out VirtioNetHeader vnet) =>
        _rx.GetFrame(i, _datapath?.Stats, out frame, out vnet);

    /// <summary>Frames the kernel dropped since the last call because the socket was full.</summary>
    public long TakeSocketOverruns() => Socket.ReadStatistics().Drops;

    /// <summary>The batch has been forwarded: its ring slots go back to the kernel.</summary>
    public void EndReceive() => _rx.Release();

    public void Deliver(in VnetFrame packet)
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

    /// <summary>Delivers an IPv4 datagram larger than <paramref name="mtu"/> as fragments that fit,
    /// written straight into the transmit batch; false when it is not one (deliver it as it is).</summary>
    public bool DeliverFragmented(in VnetFrame packet, int mtu)
    {
        if (_tx is null || packet.Vnet.IsGso || packet.Vnet.NeedsCsum) return false;
        var sink = new FragmentSink(this);
        var verdict = Ipv4Fragmenter.Fragment(packet.Frame, mtu, ref sink, out _);
        if (verdict == FragmentVerdict.SinkFull) endpoint.Counters.CountRxDrop(DropReason.AttachmentError);
        return verdict is FragmentVerdict.Fragmented or FragmentVerdict.SinkFull;
    }

    // Fragments go into the transmit batch's slots behind their vnet header; a full batch is sent first.
    private readonly struct FragmentSink(PacketSocketIo io) : ISegmentSink
    {
        public Span<byte> Reserve(int length)
        {
            var tx = io._tx!;
            if (tx.Count == tx.Capacity) io.Flush();
            return tx.Count == tx.Capacity || VnetSize + length > tx.SlotSize ? default : tx.Slot(tx.Count)[VnetSize..];
        }

        public void Commit(int length, in VirtioNetHeader header)
        {
            var tx = io._tx!;
            header.Write(tx.Slot(tx.Count)[..VnetSize]);
            tx.Commit(VnetSize + length);
        }
    }

    internal static bool Append(SocketFrameBatch batch, in VnetFrame packet)
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
