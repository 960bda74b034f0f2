// One IPv4 datagram being reassembled (the kernel's struct ipq / inet_frag_queue): what is
// known of its length, which byte ranges are held, and the bytes themselves in pages taken
// from the defragmenter's pool as fragments touch them. Ranges are kept as the kernel keeps
// its rb-tree of "runs" (inet_frag_queue_insert): a fragment that starts where the highest run
// ends extends that run; any other fragment is a run of its own. Whether a fragment repeats
// held data (dropped, datagram kept) or overlaps it (datagram discarded) is decided against
// these runs exactly as the kernel decides it. Objects are pooled by the defragmenter.
namespace Mvtap.Core.Forwarding;

internal readonly record struct FragmentKey(uint Source, uint Destination, ushort Id, byte Protocol);

internal enum InsertResult { Ok, Duplicate, Overlap }

internal sealed class FragmentQueue
{
    public const int PageSize = 1024;
    /// <summary>Pages cover payload offsets 0..65535; data ending later is never stored (see Ipv4Defragmenter).</summary>
    public const int PageCount = 65536 / PageSize;
    /// <summary>A runs array grown beyond this is not kept when the queue goes back to the pool.</summary>
    private const int KeptRunCapacity = 64;

    public FragmentKey Key;
    public long Started;
    /// <summary>Creation order, oldest first: the expiry list.</summary>
    public FragmentQueue? Older, Newer;
    public bool FirstIn, LastIn;
    /// <summary>q.len: the end of the last fragment once it came, else the highest end seen.</summary>
    public int Length;
    /// <summary>q.meat: payload bytes held.</summary>
    public int Meat;
    /// <summary>Fragments held (each counted as dropped if the datagram is discarded).</summary>
    public int Fragments;
    /// <summary>Bytes charged against the defragmenter's memory limit.</summary>
    public long Charged;
    /// <summary>Largest fragment (IP header + payload) seen, and largest with DF (ip_frag_reasm's DF rule).</summary>
    public int MaxSize, MaxDfSize;
    /// <summary>OR of 1 &lt;&lt; ECN codepoint over the fragments (ip4_frag_ecn).</summary>
    public byte Ecn;
    /// <summary>Link-layer and IPv4 header of the offset-0 fragment.</summary>
    public readonly byte[] Header = new byte[18 + 60];
    public int HeaderLength, NetworkOffset;
    public readonly byte[]?[] Pages = new byte[PageCount][];

    private (int Start, int End)[] _runs = new (int, int)[8];
    private int _runCount;

    public int RunCount => _runCount;

    /// <summary>The source's fragment count when this queue last took one (ip_frag_too_far's qp->rid).</summary>
    public uint Rid;

    public void Reset(FragmentKey key, long started)
    {
        Key = key;
        Started = started;
        Older = Newer = null;
        MaxSize = MaxDfSize = 0;
        Charged = 0;
        Rid = 0;
        Restart();
    }

    /// <summary>Forgets what was held (ip_frag_reinit): flags, length, bytes, runs, ECN. The largest
    /// fragment sizes stay, as in the kernel. The caller returns the pages.</summary>
    public void Restart()
    {
        FirstIn = LastIn = false;
        Length = Meat = Fragments = HeaderLength = NetworkOffset = 0;
        Ecn = 0;
        _runCount = 0;
        if (_runs.Length > KeptRunCapacity) _runs = new (int, int)[8]; // a hostile datagram's array is not pooled
    }

    /// <summary>inet_frag_queue_insert for payload bytes [offset, end).</summary>
    public InsertResult Insert(int offset, int end)
    {
        if (_runCount == 0)
        {
            Add(0, offset, end);
            return InsertResult.Ok;
        }
        ref var last = ref _runs[_runCount - 1];
        if (last.End < end)
        {
            // the common case: behind everything held
            if (offset < last.End) return InsertResult.Overlap;
            if (offset == last.End) last.End = end;
            else Add(_runCount, offset, end);
            return InsertResult.Ok;
        }
        // the first run ending after offset is the only one that can hold all of [offset, end)
        int lo = 0, hi = _runCount;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_runs[mid].End <= offset) lo = mid + 1; else hi = mid;
        }
        var run = _runs[lo]; // exists: the last run ends at or after end > offset
        if (end <= run.Start)
        {
            Add(lo, offset, end);
            return InsertResult.Ok;
        }
        return offset >= run.Start && end <= run.End ? InsertResult.Duplicate : InsertResult.Overlap;
    }

    private void Add(int index, int offset, int end)
    {
        if (_runCount == _runs.Length) Array.Resize(ref _runs, _runs.Length * 2);
        Array.Copy(_runs, index, _runs, index + 1, _runCount - index);
        _runs[index] = (offset, end);
        _runCount++;
    }
}
