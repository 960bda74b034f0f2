// Reassembles IPv4 fragments addressed to a multicast or broadcast MAC before any endpoint
// sees them (spec 3.8, ip_check_defrag with IP_DEFRAG_MACVLAN): fragments are held until the
// datagram is whole, then the whole datagram, possibly larger than the MTU, is what endpoints
// and the lower receive. Unicast fragments are never touched. A bounded set of slots with
// buffers kept for reuse; a datagram not completed within the timeout is dropped and counted.
using System.Buffers.Binary;
using Mvtap.Core.Frames;

namespace Mvtap.Core.Forwarding;

public sealed class Ipv4Defragmenter
{
    public const int MaxDatagrams = 16;
    /// <summary>net.ipv4.ipfrag_time: 30 s.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private const int MaxIpLength = 65535;
    private const int MaxRanges = 64;

    public enum Result { NotFragment, Held, Complete, Dropped }

    private sealed class Datagram
    {
        public bool InUse;
        public uint Source, Destination;
        public ushort Id;
        public byte Protocol;
        public long Started;
        // payload is placed after the largest header (PayloadStart), so the buffer holds that much more
        public readonly byte[] Buffer = new byte[PayloadStart + MaxIpLength];
        public int HeaderLength;      // Ethernet + IP header of the first fragment
        public int TotalPayload = -1; // known once the last fragment arrived
        public readonly (int Start, int End)[] Ranges = new (int, int)[MaxRanges];
        public int RangeCount;
    }

    private readonly Datagram?[] _slots = new Datagram?[MaxDatagrams];
    private readonly TimeProvider _clock;

    public Ipv4Defragmenter(TimeProvider? clock = null) => _clock = clock ?? TimeProvider.System;

    /// <summary>Datagrams dropped since creation: expired, overlapping, too long or no free slot.</summary>
    public long Dropped { get; private set; }

    /// <summary>True for an untagged IPv4 frame with MF set or a non-zero fragment offset.</summary>
    public static bool IsFragment(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < EthernetFrame.HeaderLength + 20 || EthernetFrame.EtherType(frame) != EthernetFrame.EtherTypeIPv4) return false;
        ushort flagsOffset = BinaryPrimitives.ReadUInt16BigEndian(frame[(EthernetFrame.HeaderLength + 6)..]);
        return (flagsOffset & 0x3FFF) != 0; // MF or offset
    }

    /// <summary>Takes one fragment. On Complete, <paramref name="datagram"/> is the whole frame,
    /// valid until the next call.</summary>
    public Result Add(ReadOnlySpan<byte> frame, out ReadOnlySpan<byte> datagram)
    {
        datagram = default;
        var ip = frame[EthernetFrame.HeaderLength..];
        int ihl = (ip[0] & 0x0F) * 4;
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if ((ip[0] >> 4) != 4 || ihl < 20 || totalLength < ihl || totalLength > ip.Length) { Dropped++; return Result.Dropped; }
        ushort flagsOffset = BinaryPrimitives.ReadUInt16BigEndian(ip[6..]);
        bool more = (flagsOffset & 0x2000) != 0;
        int offset = (flagsOffset & 0x1FFF) * 8;
        int length = totalLength - ihl;
        if (offset + length > MaxIpLength - ihl || (more && length % 8 != 0)) { Dropped++; return Result.Dropped; }

        ExpireOld();
        var d = Find(BinaryPrimitives.ReadUInt32BigEndian(ip[12..]), BinaryPrimitives.ReadUInt32BigEndian(ip[16..]),
            BinaryPrimitives.ReadUInt16BigEndian(ip[4..]), ip[9]);
        if (d is null) { Dropped++; return Result.Dropped; }

        for (int i = 0; i < d.RangeCount; i++)
            if (offset < d.Ranges[i].End && d.Ranges[i].Start < offset + length)
            {
                // overlapping fragments: the whole datagram is discarded (RFC 5722's rule; Linux does the same)
                d.InUse = false;
                Dropped++;
                return Result.Dropped;
            }
        // past a known end, or a last fragment ending before data held: the datagram is broken (ip_frag_queue)
        bool beyondEnd = d.TotalPayload >= 0 && offset + length > d.TotalPayload;
        if (d.RangeCount == MaxRanges || beyondEnd || (!more && EndsBefore(d, offset + length))) { d.InUse = false; Dropped++; return Result.Dropped; }
        if (offset == 0)
        {
            d.HeaderLength = EthernetFrame.HeaderLength + ihl;
            frame[..d.HeaderLength].CopyTo(d.Buffer);
        }
        // payload goes at a fixed place after the largest possible header (14 + 60)
        ip.Slice(ihl, length).CopyTo(d.Buffer.AsSpan(PayloadStart + offset));
        d.Ranges[d.RangeCount++] = (offset, offset + length);
        if (!more) d.TotalPayload = offset + length;
        if (d.TotalPayload < 0 || d.HeaderLength == 0 || Covered(d) != d.TotalPayload) return Result.Held;

        // whole: header of the first fragment, lengths and flags fixed, checksum recomputed
        int hl = d.HeaderLength;
        if (hl - EthernetFrame.HeaderLength + d.TotalPayload > MaxIpLength) { d.InUse = false; Dropped++; return Result.Dropped; }
        var buf = d.Buffer.AsSpan();
        buf.Slice(PayloadStart, d.TotalPayload).CopyTo(buf[hl..]);
        var head = buf[EthernetFrame.HeaderLength..hl];
        BinaryPrimitives.WriteUInt16BigEndian(head[2..], (ushort)(hl - EthernetFrame.HeaderLength + d.TotalPayload));
        BinaryPrimitives.WriteUInt16BigEndian(head[6..], 0);
        InternetChecksum.WriteIpv4HeaderChecksum(head);
        d.InUse = false;
        datagram = buf[..(hl + d.TotalPayload)];
        return Result.Complete;
    }

    private const int PayloadStart = EthernetFrame.HeaderLength + 60;

    private static bool EndsBefore(Datagram d, int end)
    {
        for (int i = 0; i < d.RangeCount; i++) if (d.Ranges[i].End > end) return true;
        return false;
    }

    private static int Covered(Datagram d)
    {
        // ranges never overlap and none lies past the end, so the datagram is whole when they add up to its length
        int sum = 0;
        for (int i = 0; i < d.RangeCount; i++) sum += d.Ranges[i].End - d.Ranges[i].Start;
        return sum;
    }

    private Datagram? Find(uint src, uint dst, ushort id, byte protocol)
    {
        Datagram? free = null;
        foreach (var d in _slots)
        {
            if (d is { InUse: true } && d.Source == src && d.Destination == dst && d.Id == id && d.Protocol == protocol) return d;
        }
        for (int i = 0; i < _slots.Length; i++)
        {
            _slots[i] ??= new Datagram(); // buffers are made once per slot and reused
            if (!_slots[i]!.InUse) { free = _slots[i]; break; }
        }
        if (free is null) return null;
        free.InUse = true;
        free.Source = src;
        free.Destination = dst;
        free.Id = id;
        free.Protocol = protocol;
        free.Started = _clock.GetTimestamp();
        free.HeaderLength = 0;
        free.TotalPayload = -1;
        free.RangeCount = 0;
        return free;
    }

    private void ExpireOld()
    {
        long now = _clock.GetTimestamp();
        foreach (var d in _slots)
            if (d is { InUse: true } && _clock.GetElapsedTime(d.Started, now) > Timeout)
            {
                d.InUse = false;
                Dropped++;
            }
    }
}
