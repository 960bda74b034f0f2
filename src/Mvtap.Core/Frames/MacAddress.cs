// An Ethernet MAC address held in the low 48 bits of a ulong, so that table lookups and
// comparisons are one integer operation and a frame's address is read without allocating.
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace Mvtap.Core.Frames;

public readonly struct MacAddress : IEquatable<MacAddress>, ISpanFormattable
{
    /// <summary>Big-endian value: byte 0 of the address is bits 40..47.</summary>
    public readonly ulong Value;

    public MacAddress(ulong value) => Value = value & 0xFFFF_FFFF_FFFFUL;

    public static readonly MacAddress Zero = default;
    public static readonly MacAddress Broadcast = new(0xFFFF_FFFF_FFFFUL);

    public static MacAddress Read(ReadOnlySpan<byte> six) =>
        new(((ulong)BinaryPrimitives.ReadUInt16BigEndian(six) << 32) | BinaryPrimitives.ReadUInt32BigEndian(six[2..]));

    public void Write(Span<byte> six)
    {
        BinaryPrimitives.WriteUInt16BigEndian(six, (ushort)(Value >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(six[2..], (uint)Value);
    }

    public byte[] ToBytes() { var b = new byte[6]; Write(b); return b; }

    /// <summary>The I/G bit: group (multicast or broadcast) address.</summary>
    public bool IsMulticast => (Value & 0x0100_0000_0000UL) != 0;
    public bool IsBroadcast => Value == 0xFFFF_FFFF_FFFFUL;
    public bool IsZero => Value == 0;
    public bool IsLocallyAdministered => (Value & 0x0200_0000_0000UL) != 0;

    /// <summary>The kernel's is_valid_ether_addr: not multicast and not all zero.</summary>
    public bool IsValidUnicast => !IsMulticast && !IsZero;

    /// <summary>A random locally administered unicast address, as eth_random_addr makes.</summary>
    public static MacAddress Random(Random rng)
    {
        Span<byte> b = stackalloc byte[6];
        rng.NextBytes(b);
        b[0] = (byte)((b[0] & 0xFE) | 0x02);
        return Read(b);
    }

    public static bool TryParse([NotNullWhen(true)] string? s, out MacAddress mac)
    {
        mac = default;
        if (s is null) return false;
        var parts = s.Split(':');
        if (parts.Length != 6) return false;
        ulong v = 0;
        foreach (var p in parts)
        {
            if (p.Length is < 1 or > 2) return false;
            if (!byte.TryParse(p, System.Globalization.NumberStyles.HexNumber, null, out var b)) return false;
            v = (v << 8) | b;
        }
        mac = new MacAddress(v);
        return true;
    }

    public static MacAddress Parse(string s) =>
        TryParse(s, out var m) ? m : throw new FormatException($"\"{s}\" is not a MAC address");

    public bool Equals(MacAddress other) => Value == other.Value;
    public override bool Equals(object? obj) => obj is MacAddress m && Equals(m);
    public override int GetHashCode() => Value.GetHashCode();
    public static bool operator ==(MacAddress a, MacAddress b) => a.Value == b.Value;
    public static bool operator !=(MacAddress a, MacAddress b) => a.Value != b.Value;

    public override string ToString() => string.Create(17, Value, static (span, v) =>
    {
        const string hex = "0123456789abcdef";
        for (int i = 0; i < 6; i++)
        {
            byte b = (byte)(v >> (40 - 8 * i));
            span[i * 3] = hex[b >> 4];
            span[i * 3 + 1] = hex[b & 15];
            if (i < 5) span[i * 3 + 2] = ':';
        }
    });

    public string ToString(string? format, IFormatProvider? formatProvider) => ToString();

    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider)
    {
        var s = ToString();
        charsWritten = 0;
        if (!s.AsSpan().TryCopyTo(destination)) return false;
        charsWritten = s.Length;
        return true;
    }
}
