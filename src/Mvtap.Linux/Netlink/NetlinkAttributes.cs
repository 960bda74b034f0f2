// Reads a run of netlink attributes into a type → payload map (last one wins, as the kernel's nla_parse).
using System.Buffers.Binary;
using System.Text;
using Mvtap.Core.Frames;
using Mvtap.Linux.Interop;

namespace Mvtap.Linux.Netlink;

public sealed class NetlinkAttributes
{
    private readonly Dictionary<ushort, ReadOnlyMemory<byte>> _byType = new();
    private readonly List<(ushort Type, ReadOnlyMemory<byte> Payload)> _inOrder = new();

    public NetlinkAttributes(ReadOnlyMemory<byte> data)
    {
        var span = data.Span;
        int offset = 0;
        while (offset + 4 <= span.Length)
        {
            int len = BinaryPrimitives.ReadUInt16LittleEndian(span[offset..]);
            ushort type = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(span[(offset + 2)..]) & NetlinkAbi.NLA_TYPE_MASK);
            if (len < 4 || offset + len > span.Length) break; // malformed tail: stop, as nla_for_each_attr does
            var payload = data.Slice(offset + 4, len - 4);
            _byType[type] = payload;
            _inOrder.Add((type, payload));
            offset += NetlinkAbi.Align(len);
        }
    }

    /// <summary>Every attribute in order, including repeats (for lists such as MACADDR_DATA).</summary>
    public IReadOnlyList<(ushort Type, ReadOnlyMemory<byte> Payload)> All => _inOrder;

    public bool Has(ushort type) => _byType.ContainsKey(type);

    public ReadOnlyMemory<byte>? Bytes(ushort type) => _byType.TryGetValue(type, out var p) ? p : null;

    public byte? U8(ushort type) => _byType.TryGetValue(type, out var p) && p.Length >= 1 ? p.Span[0] : null;
    public ushort? U16(ushort type) => _byType.TryGetValue(type, out var p) && p.Length >= 2 ? BinaryPrimitives.ReadUInt16LittleEndian(p.Span) : null;
    public uint? U32(ushort type) => _byType.TryGetValue(type, out var p) && p.Length >= 4 ? BinaryPrimitives.ReadUInt32LittleEndian(p.Span) : null;
    public int? S32(ushort type) => _byType.TryGetValue(type, out var p) && p.Length >= 4 ? BinaryPrimitives.ReadInt32LittleEndian(p.Span) : null;
    public MacAddress? Mac(ushort type) => _byType.TryGetValue(type, out var p) && p.Length == 6 ? MacAddress.Read(p.Span) : null;

    public string? String(ushort type)
    {
        if (!_byType.TryGetValue(type, out var p)) return null;
        var s = p.Span;
        int end = s.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? s : s[..end]);
    }

    public NetlinkAttributes? Nested(ushort type) => _byType.TryGetValue(type, out var p) ? new NetlinkAttributes(p) : null;
}
