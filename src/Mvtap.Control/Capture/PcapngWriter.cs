// Writes pcapng blocks (IETF draft-ietf-opsawg-pcapng) into a growable buffer, little-endian:
// a Section Header Block, Interface Description Blocks (linktype Ethernet, snaplen, if_name,
// if_description), Enhanced VnetFrame Blocks with the direction in epb_flags, and Interface
// Statistics Blocks (isb_starttime, isb_endtime, isb_ifrecv, isb_ifdrop, isb_usrdeliv).
// Timestamps are microseconds since 1970 (the default if_tsresol). mvtapd writes a capture with it;
// the blocks are what `tcpdump -r`, `tshark -r` and Wireshark read.
using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Mvtap.Control.Capture;

public sealed class PcapngWriter
{
    public const uint SectionHeaderType = 0x0A0D0D0A, InterfaceDescriptionType = 1, InterfaceStatisticsType = 5, EnhancedPacketType = 6;
    public const uint ByteOrderMagic = 0x1A2B3C4D;
    public const ushort LinkTypeEthernet = 1;
    /// <summary>epb_flags direction bits: 1 inbound, 2 outbound.</summary>
    public const uint Inbound = 1, Outbound = 2;
    private const ushort EndOfOptions = 0, ShbUserAppl = 4, IfName = 2, IfDescription = 3, EpbFlags = 2,
        IsbStartTime = 2, IsbEndTime = 3, IsbIfRecv = 4, IsbIfDrop = 5, IsbUsrDeliv = 8;

    private readonly ArrayBufferWriter<byte> _out = new(64 * 1024);

    /// <summary>Bytes written since the last <see cref="Clear"/>.</summary>
    public ReadOnlyMemory<byte> Written => _out.WrittenMemory;
    public int Length => _out.WrittenCount;
    public void Clear() => _out.ResetWrittenCount();

    public void SectionHeader(string application)
    {
        int start = Begin(SectionHeaderType);
        U32(ByteOrderMagic);
        U16(1); U16(0);           // version 1.0
        U64(ulong.MaxValue);      // section length: not given (-1), the file is written as a stream
        StringOption(ShbUserAppl, application);
        End(start);
    }

    public void InterfaceDescription(string name, string? description, int snaplen)
    {
        int start = Begin(InterfaceDescriptionType);
        U16(LinkTypeEthernet); U16(0);
        U32((uint)snaplen);
        StringOption(IfName, name);
        if (description is not null) StringOption(IfDescription, description);
        End(start);
    }

    /// <param name="direction"><see cref="Inbound"/> or <see cref="Outbound"/>.</param>
    public void EnhancedPacket(uint interfaceId, long unixMicroseconds, ReadOnlySpan<byte> captured, int originalLength, uint direction)
    {
        int start = Begin(EnhancedPacketType);
        U32(interfaceId);
        Timestamp(unixMicroseconds);
        U32((uint)captured.Length);
        U32((uint)originalLength);
        Bytes(captured);
        Option(EpbFlags, 4);
        U32(direction & 3);
        End(start);
    }

    public void InterfaceStatistics(uint interfaceId, long unixMicroseconds, long startMicroseconds, ulong received, ulong dropped, ulong delivered)
    {
        int start = Begin(InterfaceStatisticsType);
        U32(interfaceId);
        Timestamp(unixMicroseconds);
        Option(IsbStartTime, 8); Timestamp(startMicroseconds);
        Option(IsbEndTime, 8); Timestamp(unixMicroseconds);
        Option(IsbIfRecv, 8); U64(received);
        Option(IsbIfDrop, 8); U64(dropped);
        Option(IsbUsrDeliv, 8); U64(delivered);
        End(start);
    }

    /// <summary>Microseconds since 1970 of a UTC DateTime's ticks.</summary>
    public static long UnixMicroseconds(long utcTicks) => (utcTicks - DateTime.UnixEpoch.Ticks) / 10;

    private int Begin(uint type)
    {
        int start = _out.WrittenCount;
        U32(type);
        U32(0); // total length, set by End
        return start;
    }

    private void End(int start)
    {
        Option(EndOfOptions, 0);
        int total = _out.WrittenCount - start + 4;
        U32((uint)total);
        // the block was written contiguously from start: patch its length in place
        var written = System.Runtime.InteropServices.MemoryMarshal.AsMemory(_out.WrittenMemory);
        BinaryPrimitives.WriteUInt32LittleEndian(written.Span.Slice(start + 4, 4), (uint)total);
    }

    private void Timestamp(long microseconds)
    {
        ulong t = (ulong)Math.Max(0, microseconds);
        U32((uint)(t >> 32));
        U32((uint)t);
    }

    private void Option(ushort code, ushort length) { U16(code); U16(length); }

    private void StringOption(ushort code, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        if (bytes.Length > ushort.MaxValue) bytes = bytes[..ushort.MaxValue];
        Option(code, (ushort)bytes.Length);
        Bytes(bytes);
    }

    // the bytes, padded to 32 bits
    private void Bytes(ReadOnlySpan<byte> bytes)
    {
        int padded = (bytes.Length + 3) & ~3;
        var span = _out.GetSpan(padded)[..padded];
        bytes.CopyTo(span);
        span[bytes.Length..].Clear();
        _out.Advance(padded);
    }

    private void U16(ushort v) { BinaryPrimitives.WriteUInt16LittleEndian(_out.GetSpan(2), v); _out.Advance(2); }
    private void U32(uint v) { BinaryPrimitives.WriteUInt32LittleEndian(_out.GetSpan(4), v); _out.Advance(4); }
    private void U64(ulong v) { BinaryPrimitives.WriteUInt64LittleEndian(_out.GetSpan(8), v); _out.Advance(8); }
}
