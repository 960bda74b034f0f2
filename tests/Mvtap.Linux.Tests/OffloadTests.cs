// The virtio-net header carries checksum and GSO metadata end to end: a 3000-byte TCP super-frame
// with NEEDS_CSUM + GSO_TCPV4 sent on one veth end arrives on the other still one frame, same header.
using System.Buffers.Binary;
using Mvtap.Core.Frames;

namespace Mvtap.Linux.Tests;

public sealed class OffloadTests : IDisposable
{
    private readonly VethPair _net = new();

    public void Dispose() => _net.Dispose();

    private static byte[] TcpSuperFrame(MacAddress dst, MacAddress src, int payload)
    {
        var f = new byte[54 + payload];
        dst.Write(f);
        src.Write(f.AsSpan(6));
        f[12] = 0x08; f[13] = 0x00;
        var ip = f.AsSpan(14, 20);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + 20 + payload));
        ip[6] = 0x40; ip[8] = 64; ip[9] = 6;
        ip[12] = 10; ip[15] = 1; ip[16] = 10; ip[19] = 2;
        uint sum = 0;
        for (int i = 0; i < 20; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(ip[i..]);
        while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], (ushort)~sum);
        var tcp = f.AsSpan(34, 20);
        BinaryPrimitives.WriteUInt16BigEndian(tcp, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], 5001);
        tcp[12] = 5 << 4; tcp[13] = 0x18;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 65535);
        for (int i = 0; i < payload; i++) f[54 + i] = (byte)i;
        return f;
    }

    [Fact]
    public void ChecksumAndGsoMetadataTravelWithTheFrame()
    {
        var opts = new PacketSocketOptions { VnetHeader = true };
        using var tx = _net.Open(_net.A.Index, opts);
        using var rx = _net.Open(_net.B.Index, opts with { RxRing = PacketRingGeometry.Default });
        var frame = TcpSuperFrame(_net.MacB, _net.MacA, 3000);
        var hdr = new byte[10];
        hdr[0] = 1;                                           // VIRTIO_NET_HDR_F_NEEDS_CSUM
        hdr[1] = 1;                                           // VIRTIO_NET_HDR_GSO_TCPV4
        BinaryPrimitives.WriteUInt16LittleEndian(hdr.AsSpan(2), 54);   // hdr_len
        BinaryPrimitives.WriteUInt16LittleEndian(hdr.AsSpan(4), 1000); // gso_size
        BinaryPrimitives.WriteUInt16LittleEndian(hdr.AsSpan(6), 34);   // csum_start
        BinaryPrimitives.WriteUInt16LittleEndian(hdr.AsSpan(8), 16);   // csum_offset (TCP)
        Assert.True(tx.Send([.. hdr, .. frame]));

        byte[]? got = null;
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (got is null && DateTime.UtcNow < deadline)
        {
            rx.WaitReadable(100);
            while (rx.Ring!.TryReceive(out var f))
                if (f.Data.Length > 64 && f.Data[22] == 0x08 && f.Data[23] == 0x00 && f.Data[10 + 23] == 6) got = f.Data.ToArray();
        }
        Assert.NotNull(got);
        Assert.Equal(10 + frame.Length, got.Length); // one frame, not segmented
        Assert.Equal(1, got[0] & 1);                 // NEEDS_CSUM
        Assert.Equal(1, got[1]);                     // GSO_TCPV4
        Assert.Equal(1000, BinaryPrimitives.ReadUInt16LittleEndian(got.AsSpan(4)));
        Assert.Equal(34, BinaryPrimitives.ReadUInt16LittleEndian(got.AsSpan(6)));
        Assert.Equal(16, BinaryPrimitives.ReadUInt16LittleEndian(got.AsSpan(8)));
        Assert.Equal(frame.AsSpan(54).ToArray(), got.AsSpan(64).ToArray());
    }
}
