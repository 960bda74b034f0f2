// The forwarder target's IDeliverySink: checks every decision the core hands it, then does with
// the frame what an attachment would (segments a GSO frame for a receiver without GSO, completes
// a partial checksum). Checks: only endpoints of the current table that are up receive, at most
// one copy per endpoint per frame, nothing from the wire goes back to the wire, a copy is the
// frame as given or (multicast fragments) a whole reassembled datagram.
using Mvtap.Core.Forwarding;
using Mvtap.Core.Frames;

namespace Mvtap.Fuzz.Support;

public sealed class DeliveryChecks
{
    public readonly SegmentChecks Segments = new();
    public readonly byte[] Scratch = new byte[SegmentChecks.MaxSegment];
    public readonly int[] CopiesBySlot = new int[16];
    public ForwardingTable? Table;
    public byte[] Original = [];
    public int OriginalLength;
    public bool FromWire;
    public int Copies;

    public void Begin(ForwardingTable table, byte[] original, int length, bool fromWire)
    {
        Table = table;
        Original = original;
        OriginalLength = length;
        FromWire = fromWire;
        Copies = 0;
        Array.Clear(CopiesBySlot);
    }
}

public readonly struct CheckingDeliverySink(DeliveryChecks checks) : IDeliverySink
{
    public void ToEndpoint(EndpointSnapshot endpoint, in VnetFrame packet, DeliveryKind kind)
    {
        if (checks.Table!.Find(endpoint.Endpoint) != endpoint) throw new InvalidOperationException($"{endpoint.Endpoint.Name} is not in the table");
        if (!endpoint.IsUp) throw new InvalidOperationException($"delivered to {endpoint.Endpoint.Name}, which is down");
        if (++checks.CopiesBySlot[endpoint.Slot] > 1) throw new InvalidOperationException($"{endpoint.Endpoint.Name} got a frame twice");
        checks.Copies++;
        CheckFrame(packet);
        Consume(packet);
    }

    public void ToWire(in VnetFrame packet)
    {
        if (checks.FromWire) throw new InvalidOperationException("a frame from the wire sent back to the wire");
        CheckFrame(packet);
        Consume(packet);
    }

    public void ToLowerStack(in VnetFrame packet) => CheckFrame(packet);

    private void CheckFrame(in VnetFrame packet)
    {
        if (packet.Length < EthernetFrame.HeaderLength) throw new InvalidOperationException($"a frame of {packet.Length} bytes handed on");
        var original = checks.Original.AsSpan(0, checks.OriginalLength);
        if (packet.Frame.SequenceEqual(original)) return;
        // not the frame as given: only reassembly makes a new one
        if (!checks.FromWire || !packet.Destination.IsMulticast) throw new InvalidOperationException("a frame changed on its way");
        Ipv4Checks.RequireWholeDatagram(packet.Frame);
    }

    // what the receiving attachment does with offload metadata it cannot pass on
    private void Consume(in VnetFrame packet)
    {
        var vnet = packet.Vnet;
        if (vnet.IsGso)
        {
            checks.Segments.Reset(int.MaxValue);
            var sink = new CheckingSegmentSink(checks.Segments);
            GsoSegmenter.Segment(packet.Frame, vnet, keepPartialChecksum: false, ref sink, out _, out _);
        }
        else if (vnet.NeedsCsum)
        {
            var copy = checks.Scratch.AsSpan(0, Math.Min(packet.Length, checks.Scratch.Length));
            packet.Frame[..copy.Length].CopyTo(copy);
            PartialChecksum.Complete(copy, vnet.CsumStart, vnet.CsumOffset);
        }
    }
}
