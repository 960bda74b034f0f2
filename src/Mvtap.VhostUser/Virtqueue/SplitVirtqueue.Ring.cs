// The datapath half of SplitVirtqueue: how many chains the guest has made available, walking a
// chain descriptor by descriptor (direct or one indirect table, never more descriptors than
// the table holds), writing used elements and publishing them, and deciding whether to
// interrupt the guest. Callers hold Gate and have checked IsReady.
using System.Runtime.CompilerServices;
using Mvtap.Linux.Interop;
using Mvtap.VhostUser.Memory;

namespace Mvtap.VhostUser.Virtqueue;

public sealed unsafe partial class SplitVirtqueue
{
    /// <summary>Chains the guest has made available and we have not consumed; -1 (and broken)
    /// if its avail index is more than a ring ahead of ours.</summary>
    public int AvailableCount()
    {
        _seenAvail = AvailIdx();
        int count = (ushort)(_seenAvail - LastAvail);
        if (count > Size)
        {
            Fail($"vring {Index}: avail index {AvailIdx()} is {count} ahead of {LastAvail}, ring size {Size}");
            return -1;
        }
        return count; // Volatile.Read of idx is an acquire: ring entries read after it are current.
    }

    /// <summary>Head descriptor index of the available chain <paramref name="offset"/> entries
    /// past LastAvail, or -1 (and broken) if the guest wrote an index outside the table.</summary>
    public int PeekHead(int offset)
    {
        int slot = (LastAvail + offset) & (Size - 1);
        ushort head = Volatile.Read(ref *(ushort*)(_avail + 4 + 2 * slot));
        if (head >= Size)
        {
            Fail($"vring {Index}: avail ring entry {head} is outside a table of {Size}");
            return -1;
        }
        return head;
    }

    /// <summary>Marks <paramref name="count"/> chains as consumed.</summary>
    public void Consume(int count) => LastAvail = (ushort)(LastAvail + count);

    public ChainCursor BeginChain(int head) => new()
    {
        Table = _desc,
        TableSize = Size,
        Next = head,
        Budget = Size,
        More = true,
    };

    /// <summary>The next descriptor of the chain: 1 and the descriptor, 0 at the end, -1 (and
    /// broken) on a loop, an index outside the table, or a bad indirect table.</summary>
    public int NextDescriptor(ref ChainCursor c, GuestMemoryTable memory, out VirtqDescriptor d)
    {
        while (true)
        {
            d = default;
            if (!c.More) return 0;
            if (c.Budget-- == 0)
            {
                Fail($"vring {Index}: descriptor chain longer than its table of {c.TableSize} (a loop)");
                return -1;
            }
            d = VirtqDescriptor.Read(c.Table, c.Next);
            c.Visited++;
            if (!d.IsIndirect)
            {
                c.More = d.HasNext;
                if (c.More && d.Next >= c.TableSize)
                {
                    Fail($"vring {Index}: next index {d.Next} is outside a table of {c.TableSize}");
                    return -1;
                }
                c.Next = d.Next;
                return 1;
            }
            if (!EnterIndirect(ref c, memory, d)) return -1;
        }
    }

    private bool EnterIndirect(ref ChainCursor c, GuestMemoryTable memory, VirtqDescriptor d)
    {
        if (!IndirectAllowed) { Fail($"vring {Index}: indirect descriptor but INDIRECT_DESC not negotiated"); return false; }
        if (c.InIndirect) { Fail($"vring {Index}: nested indirect descriptor"); return false; }
        if (c.Visited != 1 || d.HasNext) { Fail($"vring {Index}: indirect descriptor inside a chain"); return false; }
        if (d.Length == 0 || d.Length % VirtqDescriptor.Size != 0 || d.Length / VirtqDescriptor.Size > MaxIndirectEntries)
        {
            Fail($"vring {Index}: indirect table length {d.Length} is invalid");
            return false;
        }
        if (!memory.TryTranslateGuestWhole(d.Address, d.Length, out byte* table))
        {
            Fail($"vring {Index}: indirect table 0x{d.Address:x}+{d.Length} outside guest memory");
            return false;
        }
        int entries = (int)(d.Length / VirtqDescriptor.Size);
        c.Table = table;
        c.TableSize = entries;
        c.Next = 0;
        c.Budget = entries;
        c.InIndirect = true;
        return true;
    }

    /// <summary>Writes a used element after the published ones; invisible to the guest until
    /// <see cref="CompleteUsed"/>.</summary>
    public void AddUsed(int head, uint length)
    {
        byte* e = _used + 4 + 8 * (UsedIndex & (Size - 1));
        Unsafe.WriteUnaligned(e, (uint)head);
        Unsafe.WriteUnaligned(e + 4, length);
        UsedIndex++;
    }

    /// <summary>Takes back used elements written but not published (a frame that ran out of
    /// buffers half-way).</summary>
    public void RetractUsed(int count) => UsedIndex = (ushort)(UsedIndex - count);

    /// <summary>Ends a batch: if used elements were written since <paramref name="usedBefore"/>, makes
    /// them visible (the release store orders the element writes and the buffer contents before the
    /// index) and asks for an interrupt (SignalCall) if the guest wants one for them.</summary>
    public void CompleteUsed(ushort usedBefore)
    {
        if (UsedIndex == usedBefore) return;
        Volatile.Write(ref *(ushort*)(_used + 2), UsedIndex);
        NotifyGuest(usedBefore);
    }

    private void NotifyGuest(ushort usedBefore)
    {
        if (Call == null) return;
        // Publishing used->idx must be visible before we read the guest's suppression state.
        Interlocked.MemoryBarrier();
        bool signal;
        if (EventIdx)
        {
            ushort usedEvent = Volatile.Read(ref *(ushort*)(_avail + 4 + 2 * Size));
            ushort old = _signalledUsedValid ? _signalledUsed : usedBefore;
            signal = !_signalledUsedValid || NeedEvent(usedEvent, UsedIndex, old);
            _signalledUsed = UsedIndex;
            _signalledUsedValid = true;
        }
        else
        {
            signal = (Volatile.Read(ref *(ushort*)_avail) & AvailFlagNoInterrupt) == 0;
        }
        if (signal) SignalCall();
    }

    /// <summary>Interrupts the guest: asks the session's <see cref="CallNotifier"/> to write the
    /// call eventfd. Never writes it here: the frontend can make that write block (see
    /// CallNotifier), and the caller may be the datapath thread of every endpoint of a lower.</summary>
    public void SignalCall()
    {
        if (Call == null || Notifier is not { } notifier) return;
        try { notifier.Request(Index); }
        catch (SystemCallException e) { Fail($"vring {Index}: cannot wake the call notifier: {e.Message}"); }
    }

    /// <summary>Clears a pending kick; a kick descriptor that cannot be read breaks the device.
    /// The frontend shares the descriptor's O_NONBLOCK and may clear it: the read must not
    /// depend on it (a blocking read would stop the lower's whole datapath thread).</summary>
    public void DrainKick()
    {
        if (Kick == null) return;
        try { EventFd.DrainNoWait(Kick.Fd); }
        catch (SystemCallException e) { Fail($"vring {Index}: kick descriptor unusable: {e.Message}"); }
    }

    /// <summary>Asks the guest to kick when it makes chains available beyond those seen by the
    /// last <see cref="AvailableCount"/>, then reports whether it already has (the caller must
    /// then look again instead of sleeping: the guest may have missed our request).</summary>
    public bool RequestKick()
    {
        if (EventIdx) Volatile.Write(ref *(ushort*)(_used + 4 + 8 * Size), _seenAvail);
        // We never set VRING_USED_F_NO_NOTIFY, so without EVENT_IDX the guest always kicks.
        Interlocked.MemoryBarrier();
        return AvailIdx() != _seenAvail;
    }

    /// <summary>virtio's vring_need_event: has the used index moved past the guest's used_event
    /// since the last interrupt?</summary>
    public static bool NeedEvent(ushort eventIdx, ushort newIdx, ushort oldIdx) =>
        (ushort)(newIdx - eventIdx - 1) < (ushort)(newIdx - oldIdx);
}
