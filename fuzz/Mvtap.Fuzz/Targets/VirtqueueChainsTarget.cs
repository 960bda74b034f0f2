// Descriptor chains over guest memory built from the input (descriptor tables, avail rings,
// chains, loops, indirect tables, addresses in and out of range) through the backend's real
// ring code: ReceiveFromGuest walks the TX ring, DeliverToGuest writes frames into the RX ring.
// Input: a features byte (bits: VERSION_1, MRG_RXBUF, INDIRECT_DESC, EVENT_IDX, CSUM,
// GUEST_CSUM, HOST_TSO4, GUEST_TSO4), per ring (RX, TX) a size byte (log2, 0-8; bit 7 leaves the
// ring disabled) and 16-bit desc/avail/used offsets and base, one byte of frame lengths to
// deliver, then the guest memory's bytes (the rest of the region is zero).
using Mvtap.Fuzz.Support;
using Mvtap.VhostUser.Net;

namespace Mvtap.Fuzz.Targets;

public static class VirtqueueChainsTarget
{
    private static readonly ulong[] FeatureBits =
    [
        VirtioNetFeatures.Version1, VirtioNetFeatures.MrgRxbuf, VirtioNetFeatures.IndirectDesc, VirtioNetFeatures.EventIdx,
        VirtioNetFeatures.Csum, VirtioNetFeatures.GuestCsum, VirtioNetFeatures.HostTso4, VirtioNetFeatures.GuestTso4,
    ];

    private static readonly FrameBatch FromGuest = new(8, 2048);
    private static readonly FrameBatch ToGuest = new(4, 2048);

    public static void Run(ReadOnlySpan<byte> data)
    {
        var input = new FuzzInput(data);
        byte f = input.Byte();
        ulong features = 0;
        for (int i = 0; i < FeatureBits.Length; i++) if ((f & (1 << i)) != 0) features |= FeatureBits[i];
        var rx = ReadRing(ref input);
        var tx = ReadRing(ref input);
        byte lengths = input.Byte();

        var session = GuestRingSession.Current;
        var memory = session.Memory;
        memory.Clear();
        input.Take(memory.Length).CopyTo(memory);
        session.Restart(features, rx, tx);
        var backend = session.Backend;

        for (int round = 0; round < 3; round++)
        {
            int n = backend.ReceiveFromGuest(0, FromGuest);
            if ((uint)n > (uint)FromGuest.Capacity) throw new InvalidOperationException($"{n} frames from the guest");
            for (int i = 0; i < n; i++)
                if (FromGuest.Length(i) > FromGuest.FrameCapacity) throw new InvalidOperationException("frame longer than its slot");
            backend.ArmKick(1);
        }

        // frames to the guest: lengths 14..2047 from the input byte, headers zero (always deliverable)
        for (int i = 0; i < ToGuest.Capacity; i++)
        {
            int length = 14 + ((lengths * (i + 1) * 97) & 0x7FF) % (2048 - 14);
            ToGuest.Set(i, default, FromGuest.FrameBuffer(0)[..length]);
        }
        int delivered = backend.DeliverToGuest(0, ToGuest, ToGuest.Capacity);
        if ((uint)delivered > (uint)ToGuest.Capacity) throw new InvalidOperationException($"{delivered} frames delivered");
        backend.ArmKick(0);
        var status = backend.GetVringStatus(0);
        if (status.Ready && status.BrokenReason is not null) throw new InvalidOperationException("a broken ring says ready");
    }

    private static GuestRingSession.Ring ReadRing(ref FuzzInput input)
    {
        byte size = input.Byte();
        return new GuestRingSession.Ring(
            Size: 1 << Math.Min(size & 0x0F, 8),
            Desc: input.U16(), Avail: input.U16(), Used: input.U16(), Base: input.U16(),
            Enable: (size & 0x80) == 0);
    }
}
