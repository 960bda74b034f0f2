// A split-ring descriptor as read, once, out of guest memory: later reads of the same slot
// could see different values (the guest owns that memory), so only this copy is trusted.
using System.Runtime.CompilerServices;

namespace Mvtap.VhostUser.Virtqueue;

public readonly struct VirtqDescriptor
{
    public const int Size = 16;
    public const ushort FlagNext = 1;
    public const ushort FlagWrite = 2;
    public const ushort FlagIndirect = 4;

    public readonly ulong Address;
    public readonly uint Length;
    public readonly ushort Flags;
    public readonly ushort Next;

    public VirtqDescriptor(ulong address, uint length, ushort flags, ushort next)
    {
        Address = address;
        Length = length;
        Flags = flags;
        Next = next;
    }

    public bool HasNext => (Flags & FlagNext) != 0;
    public bool IsWrite => (Flags & FlagWrite) != 0;
    public bool IsIndirect => (Flags & FlagIndirect) != 0;

    internal static unsafe VirtqDescriptor Read(byte* table, int index)
    {
        byte* p = table + index * Size;
        return new VirtqDescriptor(
            Unsafe.ReadUnaligned<ulong>(p),
            Unsafe.ReadUnaligned<uint>(p + 8),
            Unsafe.ReadUnaligned<ushort>(p + 12),
            Unsafe.ReadUnaligned<ushort>(p + 14));
    }
}

/// <summary>Where a chain walk is: the table being walked (the ring's, or one indirect table),
/// the next index and how many more descriptors the walk may visit before it is a loop.</summary>
public unsafe struct ChainCursor
{
    internal byte* Table;
    internal int TableSize;
    internal int Next;
    internal int Budget;
    internal bool More;
    internal bool InIndirect;
    internal int Visited;
}
