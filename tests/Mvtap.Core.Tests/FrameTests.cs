// MAC addresses and the virtio-net header: parsing, formatting and the kernel's header checks
// (spec 5.5, 7.5 T16-T18).
using Mvtap.Core.Frames;
using static Mvtap.Core.Tests.Frames;

namespace Mvtap.Core.Tests;

public class FrameTests
{
    [Theory]
    [InlineData("1a:46:0b:ca:bc:7b", true)]
    [InlineData("1A:46:0B:CA:BC:7B", true)]
    [InlineData("1a:46:0b:ca:bc", false)]
    [InlineData("1a:46:0b:ca:bc:7b:00", false)]
    [InlineData("1a-46-0b-ca-bc-7b", false)]
    [InlineData("zz:46:0b:ca:bc:7b", false)]
    public void Mac_addresses_parse_in_ip_notation(string text, bool ok)
    {
        Assert.Equal(ok, MacAddress.TryParse(text, out var mac));
        if (ok) Assert.Equal(text.ToLowerInvariant(), mac.ToString());
    }

    [Fact]
    public void Mac_classification_follows_the_group_bit()
    {
        Assert.True(Mac("01:00:5e:00:00:01").IsMulticast);
        Assert.True(MacAddress.Broadcast.IsBroadcast && MacAddress.Broadcast.IsMulticast);
        Assert.False(Mac("00:00:00:00:00:00").IsValidUnicast);
        Assert.True(Mac("1a:46:0b:ca:bc:7b").IsValidUnicast);
        var random = MacAddress.Random(new Random(3));
        Assert.True(random.IsValidUnicast && random.IsLocallyAdministered);
    }

    [Theory]
    [InlineData(false)] [InlineData(true)]
    public void Virtio_header_round_trips_in_either_byte_order(bool bigEndian)
    {
        var h = new VirtioNetHeader { Flags = 1, GsoType = 1, HdrLen = 54, GsoSize = 1448, CsumStart = 34, CsumOffset = 16, NumBuffers = 1 };
        var buf = new byte[12];
        h.Write(buf, bigEndian);
        Assert.Equal(bigEndian ? 0x00 : 0x36, buf[2]);
        Assert.Equal(h, VirtioNetHeader.Read(buf, bigEndian));
    }

    private static byte[] TcpFrame(int payload)
    {
        var f = new byte[14 + 20 + 20 + payload];
        EthernetFrame.WriteHeader(f, Ext, Mac("1a:00:00:00:00:01"), EthernetFrame.EtherTypeIPv4);
        f[14] = 0x45; f[14 + 9] = 6;
        return f;
    }

    [Fact]
    public void T17_bad_virtio_headers_are_refused()
    {
        var frame = TcpFrame(3000);
        Assert.False(new VirtioNetHeader { GsoType = 2, GsoSize = 1000 }.IsValidFor(frame));
        Assert.False(new VirtioNetHeader { GsoType = 0x80, GsoSize = 1000 }.IsValidFor(frame));
        Assert.False(new VirtioNetHeader { GsoType = 1, GsoSize = 0 }.IsValidFor(frame));
        Assert.False(new VirtioNetHeader { HdrLen = (ushort)(frame.Length + 1) }.IsValidFor(frame));
        Assert.False(new VirtioNetHeader { Flags = 1, CsumStart = (ushort)(frame.Length - 1), CsumOffset = 6 }.IsValidFor(frame));
    }

    [Fact]
    public void T18_data_valid_and_partial_checksums_are_accepted()
    {
        var frame = TcpFrame(100);
        Assert.True(new VirtioNetHeader { Flags = 2 }.IsValidFor(frame));
        Assert.True(new VirtioNetHeader { Flags = 1, CsumStart = 20, CsumOffset = 2 }.IsValidFor(frame));
        Assert.True(new VirtioNetHeader { Flags = 1, CsumStart = 40 }.IsValidFor(frame));
        Assert.True(new VirtioNetHeader { Flags = 1, GsoType = 1, GsoSize = 1448, CsumStart = 34, CsumOffset = 16, HdrLen = 54 }.IsValidFor(TcpFrame(3000)));
        Assert.True(new VirtioNetHeader { GsoType = 1, GsoSize = 1000 }.IsValidFor(TcpFrame(3000))); // dissected to TCP
    }

    [Fact]
    public void Gso_without_a_matching_l4_header_is_refused()
    {
        var frame = TcpFrame(3000);
        frame[14 + 9] = 17; // UDP, but the header says TCP
        Assert.False(new VirtioNetHeader { GsoType = 1, GsoSize = 1000 }.IsValidFor(frame));
    }
}
