// Reassembles IPv4 fragments addressed to a multicast or broadcast MAC before any endpoint
// sees them (spec 3.8: ip_check_defrag with IP_DEFRAG_MACVLAN), by the rules of the kernel's
// ip_defrag (net/ipv4/ip_fragment.c, inet_fragment.c):
// - a last fragment (no MF) that ends before data already held, or differs from a last one
//   seen, and a fragment with MF that ends past a known end, discard the whole datagram; a
//   fragment with MF is cut to a multiple of 8 bytes; an empty one discards the datagram;
// - a fragment lying within held data (one run) is dropped and the datagram kept; any other
//   overlap discards the datagram (RFC 5722 as the kernel applies it to IPv4);
// - the datagram is complete when the first and the last fragment came and the bytes held
//   equal its length, i.e. 0..end is covered without a hole; one whose IP header plus payload
//   exceeds 65535 bytes is discarded then (ip_frag_reasm's E2BIG): so a fragment ending past
//   65535 - IHL is never delivered, and its bytes are not even stored;
// - a datagram not completed 30 s after its first fragment (ipfrag_time) is dropped, checked at
//   each fragment and, through ExpireDue, by the datapath between frames;
// - a datagram that more than 64 fragments from the same source passed since it last took
//   one (ipfrag_max_dist) starts over: what it held is dropped, its 30 s start again;
// - memory held (pages of data, per-fragment and per-datagram bookkeeping) is bounded like
//   ipfrag_high_thresh: while above it every fragment is refused (inet_frag_find).
// The reassembled frame is the first fragment's link-layer and IP header with tot_len set,
// frag_off DF-or-0 and ECN as ip_frag_reasm sets them, and a new header checksum. Every frame
// dropped, held ones included when their datagram is discarded, is counted by reason.
// No allocation per fragment once the pools have grown to the traffic's peak.
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;

namespace Mvtap.Core.Forwarding;

public sealed class Ipv4Defragmenter
{
    /// <summary>net.ipv4.ipfrag_high_thresh's default: 4 MiB.</summary>
    public const long DefaultHighThreshold = 4L << 20;
    /// <summary>net.ipv4.ipfrag_time: 30 s.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    /// <summary>Charged per datagram being reassembled (the kernel charges sizeof(struct ipq)).</summary>
    public const int DatagramCost = 256;
    /// <summary>Charged per fragment held, besides the pages its bytes occupy (a small sk_buff's overhead).</summary>
    public const int FragmentCost = 256;
    public const int PageSize = FragmentQueue.PageSize;
    /// <summary>Payload bytes past this can never be part of a datagram of at most 65535 bytes with a 20-byte header.</summary>
    public const int MaxStoredEnd = 65535 - 20;

    /// <summary>net.ipv4.ipfrag_max_dist's default.</summary>
    public const uint MaxDistance = 64;

    public enum Result { NotFragment, Held, Complete, Dropped }

    /// <summary>Per source address with datagrams in reassembly: fragments seen (inet_peer's rid) and its datagrams.</summary>
    private struct Peer
    {
        public uint Rid;
        public int Datagrams;
    }

    private readonly Dictionary<FragmentKey, FragmentQueue> _queues;
    private readonly Dictionary<uint, Peer> _peers;
    private readonly Stack<FragmentQueue> _freeQueues = new();
    private readonly Stack<byte[]> _freePages = new();
    private readonly byte[] _output = new byte[18 + 65535];
    private readonly DropCounters _counters;
    private readonly TimeProvider _clock;
    private readonly long _highThreshold;
    private readonly long _timeoutTicks;
    private FragmentQueue? _oldest, _newest;

    public Ipv4Defragmenter(DropCounters? counters = null, TimeProvider? clock = null, long highThreshold = DefaultHighThreshold)
    {
        _counters = counters ?? new DropCounters();
        _clock = clock ?? TimeProvider.System;
        _highThreshold = highThreshold;
        _timeoutTicks = (long)(Timeout.TotalSeconds * _clock.TimestampFrequency);
        // as many datagrams as the limit can hold, so the table never grows on the datapath
        int most = (int)Math.Min(1 << 16, highThreshold / (DatagramCost + FragmentCost) + 2);
        _queues = new Dictionary<FragmentKey, FragmentQueue>(most);
        _peers = new Dictionary<uint, Peer>(most);
    }

    /// <summary>Where drops are counted (the port's counters).</summary>
    public DropCounters Counters => _counters;
    /// <summary>Bytes charged now; above the threshold every fragment is refused.</summary>
    public long HeldBytes { get; private set; }
    public int HeldDatagrams => _queues.Count;
    public long HeldFragments { get; private set; }
    /// <summary>Datagrams delivered whole since creation.</summary>
    public long Reassembled { get; private set; }

    /// <summary>True when <paramref name="frame"/> is an IPv4 fragment the kernel would reassemble.</summary>
    public static bool IsFragment(ReadOnlySpan<byte> frame) => Ipv4Fragment.TryRead(frame, out _);

    /// <summary>Takes one frame. NotFragment: forward it as it is. On Complete, <paramref name="datagram"/>
    /// is the whole frame, valid until the next call.</summary>
    public Result Add(ReadOnlySpan<byte> frame, out ReadOnlySpan<byte> datagram)
    {
        datagram = default;
        if (!Ipv4Fragment.TryRead(frame, out var f)) return Result.NotFragment;
        long now = _clock.GetTimestamp();
        Expire(now);
        if (HeldBytes > _highThreshold) return Drop(DropReason.ReassemblyMemory);

        var key = new FragmentKey(f.Source, f.Destination, f.Id, f.Protocol);
        if (!_queues.TryGetValue(key, out var q)) q = Create(key, now);
        if (TooFar(q)) Restart(q, now);

        int offset = f.Offset;
        int end = offset + f.PayloadLength;
        if (!f.MoreFragments)
        {
            // "If we already have some bits beyond end or have different end, the segment is corrupted."
            if (end < q.Length || (q.LastIn && end != q.Length)) return Discard(q, DropReason.ReassemblyInvalid);
            q.LastIn = true;
            q.Length = end;
        }
        else
        {
            end &= ~7;
            if (end > q.Length)
            {
                if (q.LastIn) return Discard(q, DropReason.ReassemblyInvalid);
                q.Length = end;
            }
        }
        if (end == offset) return Discard(q, DropReason.ReassemblyInvalid);

        switch (q.Insert(offset, end))
        {
            case InsertResult.Overlap: return Discard(q, DropReason.ReassemblyOverlap);
            case InsertResult.Duplicate: return Drop(DropReason.ReassemblyDuplicate);
        }
        if (end <= MaxStoredEnd) Store(q, frame.Slice(f.NetworkOffset + f.HeaderLength, end - offset), offset);
        q.Meat += end - offset;
        q.Fragments++;
        HeldFragments++;
        Charge(q, FragmentCost);
        q.Ecn |= (byte)(1 << (f.Tos & 3));
        if (offset == 0)
        {
            q.FirstIn = true;
            q.NetworkOffset = f.NetworkOffset;
            q.HeaderLength = f.NetworkOffset + f.HeaderLength;
            frame[..q.HeaderLength].CopyTo(q.Header);
        }
        int size = end - offset + f.HeaderLength;
        if (size > q.MaxSize) q.MaxSize = size;
        if (f.DontFragment && size > q.MaxDfSize) q.MaxDfSize = size;

        if (q.FirstIn && q.LastIn && q.Meat == q.Length) return Reassemble(q, out datagram);
        return Result.Held;
    }

    private Result Reassemble(FragmentQueue q, out ReadOnlySpan<byte> datagram)
    {
        datagram = default;
        int ipHeader = q.HeaderLength - q.NetworkOffset;
        if (ipHeader + q.Length > 65535) return Discard(q, DropReason.ReassemblyOversize, current: false);
        byte ecn = EcnOf(q.Ecn);
        if (ecn == 0xFF) return Discard(q, DropReason.ReassemblyInvalid, current: false);

        var output = _output.AsSpan();
        q.Header.AsSpan(0, q.HeaderLength).CopyTo(output);
        for (int done = 0; done < q.Length;)
        {
            int take = Math.Min(PageSize, q.Length - done);
            q.Pages[done / PageSize].AsSpan(0, take).CopyTo(output[(q.HeaderLength + done)..]);
            done += take;
        }
        var ip = output[q.NetworkOffset..q.HeaderLength];
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(ipHeader + q.Length));
        ip[1] |= ecn;
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], q.MaxDfSize == q.MaxSize ? Ipv4Fragment.FlagDontFragment : (ushort)0);
        InternetChecksum.WriteIpv4HeaderChecksum(ip);
        datagram = output[..(q.HeaderLength + q.Length)];
        HeldFragments -= q.Fragments;
        Release(q);
        Reassembled++;
        return Result.Complete;
    }

    // ip_frag_ecn_table: CE wins over ECT; not-ECT mixed with any ECT or CE is invalid (0xff)
    private static byte EcnOf(byte seen)
    {
        const byte NotEct = 1, Ce = 8;
        if ((seen & NotEct) != 0) return seen == NotEct ? (byte)0 : (byte)0xFF;
        return (seen & Ce) != 0 && seen != Ce ? (byte)3 : (byte)0;
    }

    private void Store(FragmentQueue q, ReadOnlySpan<byte> payload, int offset)
    {
        while (!payload.IsEmpty)
        {
            int page = offset / PageSize, within = offset % PageSize;
            var bytes = q.Pages[page];
            if (bytes is null)
            {
                bytes = q.Pages[page] = _freePages.Count > 0 ? _freePages.Pop() : new byte[PageSize];
                Charge(q, PageSize);
            }
            int take = Math.Min(PageSize - within, payload.Length);
            payload[..take].CopyTo(bytes.AsSpan(within));
            payload = payload[take..];
            offset += take;
        }
    }

    private void Charge(FragmentQueue q, long bytes)
    {
        q.Charged += bytes;
        HeldBytes += bytes;
    }

    // ip_frag_too_far: every fragment from a source counts; a datagram holding fragments that more
    // than MaxDistance of them passed since it took its last is presumed to have lost some
    private bool TooFar(FragmentQueue q)
    {
        ref var peer = ref CollectionsMarshal.GetValueRefOrNullRef(_peers, q.Key.Source);
        uint start = q.Rid;
        q.Rid = ++peer.Rid;
        return q.Fragments > 0 && q.Rid - start > MaxDistance;
    }

    // ip_frag_reinit: the held fragments are dropped, the datagram starts over with a new 30 s
    private void Restart(FragmentQueue q, long now)
    {
        for (int i = 0; i < q.Fragments; i++) _counters.CountDrop(DropReason.ReassemblyTooFar);
        HeldFragments -= q.Fragments;
        HeldBytes -= q.Charged - DatagramCost;
        q.Charged = DatagramCost;
        ReturnPages(q);
        q.Restart();
        q.Started = now;
        Unlink(q);
        Link(q);
    }

    private FragmentQueue Create(FragmentKey key, long now)
    {
        var q = _freeQueues.Count > 0 ? _freeQueues.Pop() : new FragmentQueue();
        q.Reset(key, now);
        _queues.Add(key, q);
        CollectionsMarshal.GetValueRefOrAddDefault(_peers, key.Source, out _).Datagrams++;
        Link(q);
        Charge(q, DatagramCost);
        return q;
    }

    // the expiry list: creation (or restart) order, oldest first
    private void Link(FragmentQueue q)
    {
        q.Older = _newest;
        q.Newer = null;
        if (_newest is not null) _newest.Newer = q; else _oldest = q;
        _newest = q;
    }

    private void Unlink(FragmentQueue q)
    {
        if (q.Older is not null) q.Older.Newer = q.Newer; else _oldest = q.Newer;
        if (q.Newer is not null) q.Newer.Older = q.Older; else _newest = q.Older;
        q.Older = q.Newer = null;
    }

    private void ReturnPages(FragmentQueue q)
    {
        for (int i = 0; i < q.Pages.Length; i++)
        {
            if (q.Pages[i] is not { } page) continue;
            _freePages.Push(page);
            q.Pages[i] = null;
        }
    }

    private void Release(FragmentQueue q)
    {
        _queues.Remove(q.Key);
        ref var peer = ref CollectionsMarshal.GetValueRefOrNullRef(_peers, q.Key.Source);
        if (--peer.Datagrams == 0) _peers.Remove(q.Key.Source); // its count matters only to its datagrams
        Unlink(q);
        ReturnPages(q);
        HeldBytes -= q.Charged;
        _freeQueues.Push(q);
    }

    private Result Drop(DropReason reason)
    {
        _counters.CountDrop(reason);
        return Result.Dropped;
    }

    /// <summary>Discards the whole datagram: its held fragments and (unless already among them) this one.</summary>
    private Result Discard(FragmentQueue q, DropReason reason, bool current = true)
    {
        long frames = q.Fragments + (current ? 1 : 0);
        for (long i = 0; i < frames; i++) _counters.CountDrop(reason);
        HeldFragments -= q.Fragments;
        Release(q);
        return Result.Dropped;
    }

    /// <summary>Expires what is due at the clock's now, for a caller that runs it between frames as well
    /// (the kernel's ip_expire is a timer: a datagram times out although no frame follows it). Returns
    /// how long until the oldest datagram still held is due; null when none is held (nothing is read).</summary>
    public TimeSpan? ExpireDue()
    {
        if (_oldest is null) return null;
        long now = _clock.GetTimestamp();
        Expire(now);
        if (_oldest is not { } q) return null;
        long ticks = q.Started + _timeoutTicks + 1 - now; // due once more than the timeout has passed
        return TimeSpan.FromTicks((long)((double)ticks * TimeSpan.TicksPerSecond / _clock.TimestampFrequency));
    }

    /// <summary>Drops every datagram whose 30 s are up (ip_expire); the oldest come first.</summary>
    public void Expire(long now)
    {
        while (_oldest is { } q && now - q.Started > _timeoutTicks)
        {
            for (int i = 0; i < q.Fragments; i++) _counters.CountDrop(DropReason.ReassemblyTimeout);
            HeldFragments -= q.Fragments;
            Release(q);
        }
    }
}
