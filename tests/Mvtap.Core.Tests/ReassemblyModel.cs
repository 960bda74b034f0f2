// A deliberately plain model of the kernel's IPv4 reassembly rules (ip_check_defrag, ip_defrag,
// ip_frag_too_far, ip_frag_queue, inet_frag_queue_insert, ip_frag_reasm), written from the kernel's source
// without the defragmenter's pools, pages and sorted arrays: lists, a flat byte array per
// datagram, a linear scan for overlaps. Ipv4Defragmenter must agree with it on every frame:
// the same verdict, the same bytes delivered, the same drops by reason, the same memory held.
using System.Buffers.Binary;
using Mvtap.Core.Forwarding;
using Mvtap.Core.Model;
using Result = Mvtap.Core.Forwarding.Ipv4Defragmenter.Result;

namespace Mvtap.Core.Tests;

internal sealed class ReassemblyModel(long highThreshold, long timeoutTicks)
{
    private sealed class Datagram
    {
        public long Started;
        public bool First, Last;
        public int Len, Meat, Fragments, MaxSize, MaxDf, Ecn;
        public long Charged;
        public uint Rid;
        public byte[] Header = [];
        public int Net;
        public readonly List<(int Start, int End)> Runs = [];
        public readonly byte[] Data = new byte[1 << 17];
        public readonly HashSet<int> Pages = [];
    }

    private readonly Dictionary<(uint, uint, ushort, byte), Datagram> _queues = [];
    private readonly Dictionary<uint, uint> _peerRid = [];
    public readonly Dictionary<DropReason, long> Drops = [];
    public long Held { get; private set; }

    private void Count(DropReason r, long n) => Drops[r] = Drops.GetValueOrDefault(r) + n;

    public Result Add(byte[] frame, long now, out byte[]? whole)
    {
        whole = null;
        // ip_check_defrag: an IPv4 header (behind at most one VLAN tag), v4, IHL >= 5, tot_len within the frame and >= IHL
        int net = 14;
        if (frame.Length < 14) return Result.NotFragment;
        int type = frame[12] << 8 | frame[13];
        if (type is 0x8100 or 0x88A8) { net = 18; type = frame.Length >= 18 ? frame[16] << 8 | frame[17] : 0; }
        if (type != 0x0800 || frame.Length < net + 20) return Result.NotFragment;
        int ihl = (frame[net] & 15) * 4, tot = frame[net + 2] << 8 | frame[net + 3];
        if (frame[net] >> 4 != 4 || ihl < 20 || frame.Length - net < tot || tot < ihl) return Result.NotFragment;
        int fo = frame[net + 6] << 8 | frame[net + 7];
        if ((fo & 0x3FFF) == 0) return Result.NotFragment;

        foreach (var (k, old) in _queues.ToList())
        {
            if (now - old.Started <= timeoutTicks) continue;
            Count(DropReason.ReassemblyTimeout, old.Fragments);
            Remove(k);
        }
        if (Held > highThreshold) { Count(DropReason.ReassemblyMemory, 1); return Result.Dropped; }
        var key = (BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(net + 12)), BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(net + 16)),
            BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(net + 4)), frame[net + 9]);
        if (!_queues.TryGetValue(key, out var q))
        {
            _queues[key] = q = new Datagram { Started = now, Charged = Ipv4Defragmenter.DatagramCost };
            Held += Ipv4Defragmenter.DatagramCost;
        }
        // ip_frag_too_far: more than 64 fragments from this source since the datagram took one: start over
        uint start = q.Rid;
        q.Rid = _peerRid[key.Item1] = _peerRid.GetValueOrDefault(key.Item1) + 1;
        if (q.Fragments > 0 && q.Rid - start > 64)
        {
            Count(DropReason.ReassemblyTooFar, q.Fragments);
            Held -= q.Charged - Ipv4Defragmenter.DatagramCost;
            var fresh = new Datagram { Started = now, Charged = Ipv4Defragmenter.DatagramCost, Rid = q.Rid, MaxSize = q.MaxSize, MaxDf = q.MaxDf };
            _queues[key] = q = fresh;
        }
        bool more = (fo & 0x2000) != 0;
        int offset = (fo & 0x1FFF) * 8, end = offset + tot - ihl;
        if (!more)
        {
            if (end < q.Len || (q.Last && end != q.Len)) return Discard(key, DropReason.ReassemblyInvalid, 1);
            q.Last = true;
            q.Len = end;
        }
        else
        {
            end -= end % 8;
            if (end > q.Len)
            {
                if (q.Last) return Discard(key, DropReason.ReassemblyInvalid, 1);
                q.Len = end;
            }
        }
        if (end == offset) return Discard(key, DropReason.ReassemblyInvalid, 1);

        // the kernel's runs: a fragment starting where the highest run ends extends it, any other is a run of its own
        if (q.Runs.Count > 0 && q.Runs[^1].End < end)
        {
            var last = q.Runs[^1];
            if (offset < last.End) return Discard(key, DropReason.ReassemblyOverlap, 1);
            if (offset == last.End) q.Runs[^1] = (last.Start, end); else q.Runs.Add((offset, end));
        }
        else if (q.Runs.Count > 0)
        {
            var hit = q.Runs.Where(r => r.Start < end && offset < r.End).ToList();
            if (hit.Count == 1 && hit[0].Start <= offset && end <= hit[0].End) { Count(DropReason.ReassemblyDuplicate, 1); return Result.Dropped; }
            if (hit.Count > 0) return Discard(key, DropReason.ReassemblyOverlap, 1);
            q.Runs.Add((offset, end));
            q.Runs.Sort();
        }
        else q.Runs.Add((offset, end));

        if (end <= 65535 - 20)
        {
            frame.AsSpan(net + ihl, end - offset).CopyTo(q.Data.AsSpan(offset));
            for (int b = offset; b < end; b++)
                if (q.Pages.Add(b / Ipv4Defragmenter.PageSize)) Charge(q, Ipv4Defragmenter.PageSize);
        }
        q.Meat += end - offset;
        q.Fragments++;
        Charge(q, Ipv4Defragmenter.FragmentCost);
        q.Ecn |= 1 << (frame[net + 1] & 3);
        if (offset == 0) { q.First = true; q.Net = net; q.Header = frame[..(net + ihl)]; }
        int size = end - offset + ihl;
        q.MaxSize = Math.Max(q.MaxSize, size);
        if ((fo & 0x4000) != 0) q.MaxDf = Math.Max(q.MaxDf, size);
        if (!(q.First && q.Last && q.Meat == q.Len)) return Result.Held;

        int headIhl = q.Header.Length - q.Net;
        if (headIhl + q.Len > 65535) return Discard(key, DropReason.ReassemblyOversize, 0);
        int e = q.Ecn;
        bool notEct = (e & 1) != 0, ce = (e & 8) != 0;
        if (notEct && e != 1) return Discard(key, DropReason.ReassemblyInvalid, 0);
        byte ecn = ce && e != 8 ? (byte)3 : (byte)0;
        whole = [.. q.Header, .. q.Data.AsSpan(0, q.Len)];
        var ip = whole.AsSpan(q.Net, headIhl);
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(headIhl + q.Len));
        ip[1] |= ecn;
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], (ushort)(q.MaxDf == q.MaxSize ? 0x4000 : 0));
        ip[10] = ip[11] = 0;
        uint sum = 0;
        for (int i = 0; i < headIhl; i += 2) sum += (uint)(ip[i] << 8 | ip[i + 1]);
        while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], (ushort)~sum);
        Remove(key);
        return Result.Complete;
    }

    private void Charge(Datagram q, long n) { q.Charged += n; Held += n; }

    private Result Discard((uint, uint, ushort, byte) key, DropReason reason, int current)
    {
        Count(reason, _queues[key].Fragments + current);
        Remove(key);
        return Result.Dropped;
    }

    private void Remove((uint, uint, ushort, byte) key)
    {
        Held -= _queues[key].Charged;
        _queues.Remove(key);
        // a source's count matters only while it has datagrams in reassembly
        if (!_queues.Keys.Any(k => k.Item1 == key.Item1)) _peerRid.Remove(key.Item1);
    }
}
