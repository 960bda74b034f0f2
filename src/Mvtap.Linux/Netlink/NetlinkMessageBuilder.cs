// Builds one netlink request: header, a fixed family struct, and (nested) attributes, 4-byte aligned.
// Control-plane only, so it grows a managed buffer freely.
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Mvtap.Core.Frames;
using Mvtap.Linux.Interop;

namespace Mvtap.Linux.Netlink;

public sealed class NetlinkMessageBuilder
{
    private byte[] _buffer = new byte[1024];
    private int _length;
    private readonly Stack<int> _nests = new();

    public NetlinkMessageBuilder(ushort type, ushort flags)
    {
        _length = 16;
        Header.Type = type;
        Header.Flags = flags;
    }

    private ref NlMsgHdr Header => ref MemoryMarshal.AsRef<NlMsgHdr>(_buffer.AsSpan(0, 16));

    /// <summary>Appends a fixed struct (ifinfomsg...) right after the header.</summary>
    public NetlinkMessageBuilder Struct<T>(in T value) where T : unmanaged
    {
        var span = Reserve(Unsafe.SizeOf<T>());
        MemoryMarshal.Write(span, in value);
        return this;
    }

    public NetlinkMessageBuilder Attribute(ushort type, ReadOnlySpan<byte> payload)
    {
        var span = Reserve(4 + payload.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(span, (ushort)(4 + payload.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(span[2..], type);
        payload.CopyTo(span[4..]);
        return this;
    }

    public NetlinkMessageBuilder U8(ushort type, byte v) => Attribute(type, [v]);
    public NetlinkMessageBuilder U16(ushort type, ushort v) { Span<byte> b = stackalloc byte[2]; BitConverter.TryWriteBytes(b, v); return Attribute(type, b); }
    public NetlinkMessageBuilder U32(ushort type, uint v) { Span<byte> b = stackalloc byte[4]; BitConverter.TryWriteBytes(b, v); return Attribute(type, b); }
    public NetlinkMessageBuilder S32(ushort type, int v) { Span<byte> b = stackalloc byte[4]; BitConverter.TryWriteBytes(b, v); return Attribute(type, b); }
    public NetlinkMessageBuilder Mac(ushort type, MacAddress mac) { Span<byte> b = stackalloc byte[6]; mac.Write(b); return Attribute(type, b); }

    /// <summary>A NUL-terminated string attribute (NLA_STRING / NLA_NUL_STRING both accept it).</summary>
    public NetlinkMessageBuilder String(ushort type, string s)
    {
        var b = new byte[Encoding.UTF8.GetByteCount(s) + 1];
        Encoding.UTF8.GetBytes(s, b);
        return Attribute(type, b);
    }

    /// <summary>Opens a nested attribute; close it with <see cref="EndNested"/>.</summary>
    public NetlinkMessageBuilder BeginNested(ushort type)
    {
        _nests.Push(_length);
        var span = Reserve(4);
        BinaryPrimitives.WriteUInt16LittleEndian(span[2..], (ushort)(type | NetlinkAbi.NLA_F_NESTED));
        return this;
    }

    public NetlinkMessageBuilder EndNested()
    {
        int start = _nests.Pop();
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(start), (ushort)(_length - start));
        return this;
    }

    /// <summary>Fixes the sequence number and total length; the span is valid until the next append.</summary>
    public ReadOnlySpan<byte> Finish(uint sequence)
    {
        if (_nests.Count != 0) throw new InvalidOperationException("unclosed nested attribute");
        Header.Length = (uint)_length;
        Header.Sequence = sequence;
        return _buffer.AsSpan(0, _length);
    }

    private Span<byte> Reserve(int n)
    {
        int aligned = NetlinkAbi.Align(n);
        if (_length + aligned > _buffer.Length) Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + aligned));
        var span = _buffer.AsSpan(_length, aligned);
        span.Clear();
        _length += aligned;
        return span[..n];
    }
}
