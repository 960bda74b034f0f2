// Frames into the real Forwarder, from the wire (Receive) and from endpoints (Transmit), with
// and without a virtio-net header, through a ForwarderLab port and a checking sink; the
// broadcast queue is run after each frame. Input: one setup byte (ForwarderLab), then records
// of one control byte — bits 0-2 the source (0 and 7: the wire, else endpoint 1..6), bit 3 a
// 10-byte virtio-net header leads the record, bit 4 the source MAC is set to the sending
// endpoint's, bit 5 the destination is set to endpoint (bits 6-7)'s MAC — then a 16-bit length
// and the bytes.
using Mvtap.Core.Forwarding;
using Mvtap.Core.Frames;
using Mvtap.Fuzz.Support;

namespace Mvtap.Fuzz.Targets;

public static class ForwarderTarget
{
    private static readonly DeliveryChecks Checks = new();
    private static readonly byte[] Frame = new byte[65535 + 64];

    public static void Run(ReadOnlySpan<byte> data)
    {
        var input = new FuzzInput(data);
        var lab = ForwarderLab.Begin(input.Byte());
        var sink = new CheckingDeliverySink(Checks);
        Span<byte> raw = stackalloc byte[VirtioNetHeader.Size];
        while (!input.IsEmpty)
        {
            byte control = input.Byte();
            var record = input.Record();
            int source = control & 7;
            var vnet = default(VirtioNetHeader);
            if ((control & 8) != 0)
            {
                raw.Clear();
                record[..Math.Min(record.Length, raw.Length)].CopyTo(raw);
                vnet = VirtioNetHeader.Read(raw);
                record = record[Math.Min(record.Length, raw.Length)..];
            }
            record.CopyTo(Frame);
            var frame = Frame.AsSpan(0, record.Length);
            bool fromWire = source is 0 or 7;
            if ((control & 0x10) != 0 && !fromWire && frame.Length >= 12) lab.Endpoints[source - 1].Mac.Write(frame[6..]);
            if ((control & 0x20) != 0 && frame.Length >= 6) lab.Endpoints[control >> 6].Mac.Write(frame);

            var table = lab.Port.Table;
            Checks.Begin(table, Frame, frame.Length, fromWire);
            var packet = new VnetFrame(frame, vnet);
            if (fromWire) Forwarder.Receive(table, packet, ref sink);
            else Forwarder.Transmit(table, lab.Endpoints[source - 1], packet, ref sink);
            Forwarder.ProcessBroadcasts(table, ref sink);
        }
    }
}
