// The driver side of one split virtqueue, laid out in TestGuestMemory the way a virtio driver
// would: descriptor table, avail ring (with used_event), used ring (with avail_event), and the
// kick/call eventfds. Also writes arbitrary (hostile) descriptors and indices.
using System.Buffers.Binary;
using Mvtap.Linux.Interop;
using Mvtap.VhostUser.Protocol;

namespace Mvtap.VhostUser.Tests.Frontend;

public readonly record struct Seg(ulong Addr, uint Len, bool Write = false);

public sealed class TestVring : IDisposable
{
    public const ushort Next = 1, Write = 2, Indirect = 4;

    private readonly TestGuestMemory _m;
    private ushort _availIdx;
    private int _nextDesc;

    public TestVring(TestGuestMemory memory, int index, int size = 256)
    {
        _m = memory;
        Index = index;
        Size = size;
        Desc = memory.Alloc(16 * size, 16);
        Avail = memory.Alloc(6 + 2 * size, 2);
        Used = memory.Alloc(6 + 8 * size, 4);
        KickFd = EventFd.Create();
        CallFd = EventFd.Create();
    }

    public int Index { get; }
    public int Size { get; }
    public ulong Desc { get; }
    public ulong Avail { get; }
    public ulong Used { get; }
    public FileDescriptor KickFd { get; }
    public FileDescriptor CallFd { get; }

    public VringAddress Address => new((uint)Index, 0, _m.ToQva(Desc), _m.ToQva(Used), _m.ToQva(Avail), 0);

    public void WriteDesc(int i, ulong addr, uint len, ushort flags, ushort next)
    {
        var d = _m.Span(Desc + (ulong)(16 * i), 16);
        BinaryPrimitives.WriteUInt64LittleEndian(d, addr);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], len);
        BinaryPrimitives.WriteUInt16LittleEndian(d[12..], flags);
        BinaryPrimitives.WriteUInt16LittleEndian(d[14..], next);
    }

    /// <summary>Writes a chain into consecutive free descriptors and makes it available.</summary>
    public ushort AddChain(params Seg[] segs)
    {
        ushort head = WriteChain(segs);
        PushAvail(head);
        return head;
    }

    /// <summary>Writes a chain without making it available.</summary>
    public ushort WriteChain(params Seg[] segs)
    {
        ushort head = (ushort)(_nextDesc % Size);
        for (int k = 0; k < segs.Length; k++)
        {
            int i = (_nextDesc + k) % Size;
            ushort flags = (ushort)((segs[k].Write ? Write : 0) | (k + 1 < segs.Length ? Next : 0));
            WriteDesc(i, segs[k].Addr, segs[k].Len, flags, (ushort)((i + 1) % Size));
        }
        _nextDesc += segs.Length;
        return head;
    }

    /// <summary>Writes an indirect table in guest memory and a head descriptor pointing at it.</summary>
    public ushort AddIndirect(params Seg[] segs)
    {
        ulong table = _m.Alloc(16 * segs.Length, 16);
        var t = _m.Span(table, 16 * segs.Length);
        for (int k = 0; k < segs.Length; k++)
        {
            var d = t[(16 * k)..];
            BinaryPrimitives.WriteUInt64LittleEndian(d, segs[k].Addr);
            BinaryPrimitives.WriteUInt32LittleEndian(d[8..], segs[k].Len);
            BinaryPrimitives.WriteUInt16LittleEndian(d[12..], (ushort)((segs[k].Write ? Write : 0) | (k + 1 < segs.Length ? Next : 0)));
            BinaryPrimitives.WriteUInt16LittleEndian(d[14..], (ushort)(k + 1));
        }
        ushort head = (ushort)(_nextDesc++ % Size);
        WriteDesc(head, table, (uint)(16 * segs.Length), Indirect, 0);
        PushAvail(head);
        return head;
    }

    public void PushAvail(ushort head)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(_m.Span(Avail + 4 + (ulong)(2 * (_availIdx % Size)), 2), head);
        _availIdx++;
        SetAvailIdx(_availIdx);
    }

    public void SetAvailIdx(ushort idx) => BinaryPrimitives.WriteUInt16LittleEndian(_m.Span(Avail + 2, 2), idx);

    public ushort AvailFlags { set => BinaryPrimitives.WriteUInt16LittleEndian(_m.Span(Avail, 2), value); }
    public ushort UsedEvent { set => BinaryPrimitives.WriteUInt16LittleEndian(_m.Span(Avail + 4 + (ulong)(2 * Size), 2), value); }
    public ushort AvailEvent => BinaryPrimitives.ReadUInt16LittleEndian(_m.Span(Used + 4 + (ulong)(8 * Size), 2));
    public ushort UsedIdx => BinaryPrimitives.ReadUInt16LittleEndian(_m.Span(Used + 2, 2));

    public (uint Id, uint Len) UsedElem(int i)
    {
        var e = _m.Span(Used + 4 + (ulong)(8 * (i % Size)), 8);
        return (BinaryPrimitives.ReadUInt32LittleEndian(e), BinaryPrimitives.ReadUInt32LittleEndian(e[4..]));
    }

    public void Kick() => EventFd.Signal(KickFd.Fd);

    /// <summary>How many times the backend signalled the call eventfd since the last look.</summary>
    /// <summary>Calls are written on the session's notifier thread, after the batch: see
    /// BackendHarness.TakeCalls to look once they are settled.</summary>
    public ulong TakeCalls() => EventFd.Drain(CallFd.Fd);

    /// <summary>Waits (bounded) until the backend has signalled the call eventfd at least once and
    /// takes every signal.</summary>
    public ulong WaitForCalls()
    {
        ulong n = 0;
        if (!SpinWait.SpinUntil(() => (n = EventFd.Drain(CallFd.Fd)) != 0, TestFrontend.Timeout))
            throw new TimeoutException($"vring {Index}: no call");
        return n;
    }

    public void Dispose()
    {
        KickFd.Dispose();
        CallFd.Dispose();
    }
}
