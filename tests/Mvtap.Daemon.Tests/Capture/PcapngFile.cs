// Test scaffolding: reads back a pcapng section as mvtap capture writes it (little-endian), block
// by block, independent of the writer: the interface names, each packet's interface, direction
// and bytes, and each Interface Statistics Block's counters. tcpdump and tshark check the format;
// this gives a test the values to compare.
using System.Buffers.Binary;
using System.Text;

namespace Mvtap.Daemon.Tests.Capture;

internal sealed record PcapngPacket(int Interface, uint Direction, byte[] Bytes, int OriginalLength);

internal sealed record PcapngStatistics(int Interface, ulong Received, ulong Dropped, ulong Delivered);

internal sealed class PcapngFile
{
    public List<string> Interfaces { get; } = [];
    public List<int> Snaplens { get; } = [];
    public List<PcapngPacket> Packets { get; } = [];
    public List<PcapngStatistics> Statistics { get; } = [];
    /// <summary>The type of the section's last block (5: an Interface Statistics Block).</summary>
    public uint LastBlockType { get; private set; }

    public static PcapngFile Read(byte[] data)
    {
        var file = new PcapngFile();
        int at = 0;
        Assert.True(data.Length >= 28 && BinaryPrimitives.ReadUInt32LittleEndian(data) == 0x0A0D0D0A, "starts with a section header");
        while (at < data.Length)
        {
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(at));
            int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(at + 4));
            Assert.True(length >= 12 && at + length <= data.Length, $"block at {at} of length {length} fits");
            Assert.Equal((uint)length, BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(at + length - 4)));
            var body = data.AsSpan(at + 8, length - 12);
            switch (type)
            {
                case 1:
                    file.Snaplens.Add((int)BinaryPrimitives.ReadUInt32LittleEndian(body[4..]));
                    file.Interfaces.Add(Encoding.UTF8.GetString(Option(body[8..], 2)));
                    break;
                case 6:
                {
                    int iface = (int)BinaryPrimitives.ReadUInt32LittleEndian(body);
                    int captured = (int)BinaryPrimitives.ReadUInt32LittleEndian(body[12..]);
                    int original = (int)BinaryPrimitives.ReadUInt32LittleEndian(body[16..]);
                    var bytes = body.Slice(20, captured).ToArray();
                    var flags = Option(body[(20 + ((captured + 3) & ~3))..], 2);
                    file.Packets.Add(new(iface, BinaryPrimitives.ReadUInt32LittleEndian(flags) & 3, bytes, original));
                    break;
                }
                case 5:
                {
                    var options = body[12..];
                    file.Statistics.Add(new((int)BinaryPrimitives.ReadUInt32LittleEndian(body),
                        BinaryPrimitives.ReadUInt64LittleEndian(Option(options, 4)),
                        BinaryPrimitives.ReadUInt64LittleEndian(Option(options, 5)),
                        BinaryPrimitives.ReadUInt64LittleEndian(Option(options, 8))));
                    break;
                }
            }
            file.LastBlockType = type;
            at += length;
        }
        return file;
    }

    // the value of option <paramref name="code"/> in an options list
    private static ReadOnlySpan<byte> Option(ReadOnlySpan<byte> options, ushort code)
    {
        int at = 0;
        while (at + 4 <= options.Length)
        {
            ushort c = BinaryPrimitives.ReadUInt16LittleEndian(options[at..]);
            int len = BinaryPrimitives.ReadUInt16LittleEndian(options[(at + 2)..]);
            if (c == 0) break;
            if (c == code) return options.Slice(at + 4, len);
            at += 4 + ((len + 3) & ~3);
        }
        Assert.Fail($"option {code} is missing");
        return default;
    }
}
