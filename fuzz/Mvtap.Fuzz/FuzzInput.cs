// Reads a fuzz input as a little stream of fields: single bytes, 16-bit numbers and
// length-prefixed records. Reading past the end yields zeros and empty spans, never an
// exception, so every byte string is a valid input and AFL's mutations stay meaningful.
using System.Buffers.Binary;

namespace Mvtap.Fuzz;

public ref struct FuzzInput(ReadOnlySpan<byte> data)
{
    private ReadOnlySpan<byte> _rest = data;

    public readonly bool IsEmpty => _rest.IsEmpty;
    public readonly int Remaining => _rest.Length;

    public byte Byte()
    {
        if (_rest.IsEmpty) return 0;
        byte b = _rest[0];
        _rest = _rest[1..];
        return b;
    }

    /// <summary>A big-endian 16-bit number (zero-filled when the input ends).</summary>
    public ushort U16()
    {
        Span<byte> b = stackalloc byte[2];
        b.Clear();
        Take(2).CopyTo(b);
        return BinaryPrimitives.ReadUInt16BigEndian(b);
    }

    /// <summary>Up to <paramref name="n"/> bytes (fewer when the input ends).</summary>
    public ReadOnlySpan<byte> Take(int n)
    {
        n = Math.Clamp(n, 0, _rest.Length);
        var s = _rest[..n];
        _rest = _rest[n..];
        return s;
    }

    /// <summary>A record: a big-endian 16-bit length, then that many bytes (fewer at the end).</summary>
    public ReadOnlySpan<byte> Record() => Take(U16());

    public ReadOnlySpan<byte> Rest() => Take(_rest.Length);
}
