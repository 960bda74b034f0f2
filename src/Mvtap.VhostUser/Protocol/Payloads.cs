// The fixed payload shapes of spec 3.1, parsed from the little-endian wire bytes. Sizes are
// checked by MessageValidator before any of these run.
using System.Buffers.Binary;

namespace Mvtap.VhostUser.Protocol;

/// <summary>u32 index; u32 num (SET_VRING_NUM/BASE/ENABLE, GET_VRING_BASE).</summary>
public readonly record struct VringState(uint Index, uint Num)
{
    public const int Length = 8;

    public static VringState Read(ReadOnlySpan<byte> p) =>
        new(BinaryPrimitives.ReadUInt32LittleEndian(p), BinaryPrimitives.ReadUInt32LittleEndian(p[4..]));

    public void Write(Span<byte> p)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(p, Index);
        BinaryPrimitives.WriteUInt32LittleEndian(p[4..], Num);
    }
}

/// <summary>SET_VRING_ADDR: ring addresses in the frontend's virtual address space.</summary>
public readonly record struct VringAddress(uint Index, uint Flags, ulong Desc, ulong Used, ulong Avail, ulong Log)
{
    public const int Length = 40;

    public static VringAddress Read(ReadOnlySpan<byte> p) => new(
        BinaryPrimitives.ReadUInt32LittleEndian(p),
        BinaryPrimitives.ReadUInt32LittleEndian(p[4..]),
        BinaryPrimitives.ReadUInt64LittleEndian(p[8..]),
        BinaryPrimitives.ReadUInt64LittleEndian(p[16..]),
        BinaryPrimitives.ReadUInt64LittleEndian(p[24..]),
        BinaryPrimitives.ReadUInt64LittleEndian(p[32..]));

    public void Write(Span<byte> p)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(p, Index);
        BinaryPrimitives.WriteUInt32LittleEndian(p[4..], Flags);
        BinaryPrimitives.WriteUInt64LittleEndian(p[8..], Desc);
        BinaryPrimitives.WriteUInt64LittleEndian(p[16..], Used);
        BinaryPrimitives.WriteUInt64LittleEndian(p[24..], Avail);
        BinaryPrimitives.WriteUInt64LittleEndian(p[32..], Log);
    }
}

/// <summary>One entry of SET_MEM_TABLE.</summary>
public readonly record struct MemoryRegionDescriptor(ulong GuestPhysAddr, ulong Size, ulong UserAddr, ulong MmapOffset)
{
    public const int Length = 32;

    public static MemoryRegionDescriptor Read(ReadOnlySpan<byte> p) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(p),
        BinaryPrimitives.ReadUInt64LittleEndian(p[8..]),
        BinaryPrimitives.ReadUInt64LittleEndian(p[16..]),
        BinaryPrimitives.ReadUInt64LittleEndian(p[24..]));

    public void Write(Span<byte> p)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(p, GuestPhysAddr);
        BinaryPrimitives.WriteUInt64LittleEndian(p[8..], Size);
        BinaryPrimitives.WriteUInt64LittleEndian(p[16..], UserAddr);
        BinaryPrimitives.WriteUInt64LittleEndian(p[24..], MmapOffset);
    }
}

/// <summary>Payload field helpers shared by the backend and test frontends.</summary>
public static class VhostUserPayload
{
    /// <summary>The memory table header: u32 nregions; u32 padding.</summary>
    public const int MemoryTableHeader = 8;
    public const int MaxMemoryRegions = 8;

    /// <summary>Kick/call/err payload: bits 0-7 vring index, bit 8 "no fd attached".</summary>
    public const ulong VringIndexMask = 0xff;
    public const ulong VringNoFdFlag = 0x100;

    public static ulong ReadU64(ReadOnlySpan<byte> p) => BinaryPrimitives.ReadUInt64LittleEndian(p);
}
