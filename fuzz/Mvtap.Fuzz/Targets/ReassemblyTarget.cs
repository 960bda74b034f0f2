// IPv4 multicast reassembly (Ipv4Defragmenter) fed several fragments per input. Each record is
// one control byte (low 4 bits: seconds/3 to move the clock first, bit 4: a VLAN-less frame
// to 224.0.0.251 or to broadcast), then a 16-bit length and the IP packet; the target wraps it
// in an Ethernet header. A completed datagram must be a whole, well-formed IPv4 packet, and
// every byte of its payload must have come from a fragment of that datagram (same source,
// destination, ID and protocol) given in this input: a datagram with a hole is a bug.
using System.Buffers.Binary;
using Mvtap.Core.Forwarding;
using Mvtap.Core.Frames;
using Mvtap.Fuzz.Support;

namespace Mvtap.Fuzz.Targets;

public static class ReassemblyTarget
{
    private static readonly byte[] Frame = new byte[EthernetFrame.HeaderLength + 65535];
    // one defragmenter, its buffers reused; each input first moves the clock past the timeout,
    // so it starts with nothing held
    private static readonly ManualClock Clock = new();
    private static readonly Ipv4Defragmenter Defrag = new(clock: Clock);

    public static void Run(ReadOnlySpan<byte> data)
    {
        var input = new FuzzInput(data);
        var clock = Clock;
        var defrag = Defrag;
        clock.Advance(Ipv4Defragmenter.Timeout + TimeSpan.FromSeconds(1));
        var seen = new List<(ulong Key, int Start, int End)>();
        long dropped = defrag.Counters.TotalDrops;
        while (!input.IsEmpty)
        {
            byte control = input.Byte();
            clock.Advance(TimeSpan.FromSeconds(3 * (control & 0x0F)));
            var ip = input.Record();
            int length = EthernetFrame.HeaderLength + ip.Length;
            var frame = Frame.AsSpan(0, length);
            var dst = (control & 0x10) != 0 ? MacAddress.Broadcast : new MacAddress(0x01005E0000FBUL);
            EthernetFrame.WriteHeader(frame, dst, new MacAddress(0x02AA00000001UL), EthernetFrame.EtherTypeIPv4);
            ip.CopyTo(frame[EthernetFrame.HeaderLength..]);
            if (!Ipv4Defragmenter.IsFragment(frame)) continue;
            Remember(ip, seen);

            var result = defrag.Add(frame, out var whole);
            if (defrag.Counters.TotalDrops < dropped) throw new InvalidOperationException("the drop counter went back");
            dropped = defrag.Counters.TotalDrops;
            if (result == Ipv4Defragmenter.Result.Complete) CheckComplete(whole, seen);
            else if (!whole.IsEmpty) throw new InvalidOperationException($"{result} with a datagram");
        }
    }

    private static ulong Key(ReadOnlySpan<byte> ip) =>
        ((ulong)BinaryPrimitives.ReadUInt32BigEndian(ip[12..]) << 32 ^ BinaryPrimitives.ReadUInt32BigEndian(ip[16..]))
        * 31 + ((ulong)BinaryPrimitives.ReadUInt16BigEndian(ip[4..]) << 8 | ip[9]);

    // the payload range a fragment claims, when its header is sane enough to claim one
    private static void Remember(ReadOnlySpan<byte> ip, List<(ulong, int, int)> seen)
    {
        int ihl = (ip[0] & 0x0F) * 4;
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (ihl < 20 || total < ihl || total > ip.Length) return;
        int offset = (BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x1FFF) * 8;
        seen.Add((Key(ip), offset, offset + total - ihl));
    }

    private static void CheckComplete(ReadOnlySpan<byte> whole, List<(ulong Key, int Start, int End)> seen)
    {
        Ipv4Checks.RequireWholeDatagram(whole);
        var ip = whole[EthernetFrame.HeaderLength..];
        ulong key = Key(ip);
        int payload = ip.Length - (ip[0] & 0x0F) * 4;
        // every payload byte must lie in a fragment of this datagram: sort its ranges and walk
        var ranges = seen.FindAll(s => s.Key == key);
        ranges.Sort((a, b) => a.Start.CompareTo(b.Start));
        int covered = 0;
        foreach (var r in ranges)
        {
            if (r.Start > covered) break;
            covered = Math.Max(covered, r.End);
        }
        if (covered < payload)
            throw new InvalidOperationException($"a datagram of {payload} payload bytes completed with bytes {covered}.. never sent");
    }
}
