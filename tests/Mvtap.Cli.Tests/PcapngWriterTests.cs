// The pcapng writer (Mvtap.Control.Capture.PcapngWriter), checked by the tools that read its
// output: tshark reads back each packet's interface name, direction (epb_flags), lengths and
// bytes, tcpdump reads the same bytes, capinfos finds the statistics; and the capture stream's
// block checker (CaptureStream.CheckBlocks, which the CLI runs on mvtapd's bytes) accepts what the
// writer writes and refuses, with a ControlProtocolException and nothing else, any mutation or
// cut of it that is not whole valid blocks.
using System.Buffers.Binary;
using CsCheck;
using Mvtap.Control;
using Mvtap.Control.Capture;

namespace Mvtap.Cli.Tests;

public sealed class PcapngWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mvtap-pcapng-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // an Ethernet frame of `length` bytes from source MAC 02:00:00:00:00:<tag>, payload bytes counting up
    private static byte[] Frame(int length, byte tag)
    {
        var f = new byte[length];
        f[0] = 0xff; f[1] = 0xff; f[2] = 0xff; f[3] = 0xff; f[4] = 0xff; f[5] = 0xff;
        f[6] = 0x02; f[11] = tag;
        f[12] = 0x88; f[13] = 0xb5; // local experimental ethertype
        for (int i = 14; i < length; i++) f[i] = (byte)i;
        return f;
    }

    private static byte[] Sample()
    {
        var w = new PcapngWriter();
        w.SectionHeader("mvtap test");
        w.InterfaceDescription("vm1", "mvtap macvtap endpoint on eth1", 262144);
        w.InterfaceDescription("eth1", null, 262144); // libpcap reads one snaplen for all interfaces
        w.EnhancedPacket(0, 1_700_000_000_000_001, Frame(60, 1), 60, PcapngWriter.Outbound);
        w.EnhancedPacket(0, 1_700_000_000_000_002, Frame(1515, 2), 1515, PcapngWriter.Inbound);
        w.EnhancedPacket(1, 1_700_000_000_000_003, Frame(1500, 3).AsSpan(0, 100), 1500, PcapngWriter.Inbound);
        w.EnhancedPacket(1, 1_700_000_000_000_004, Frame(61, 4), 61, PcapngWriter.Outbound);
        w.InterfaceStatistics(0, 1_700_000_000_100_000, 1_700_000_000_000_000, 5, 3, 2);
        w.InterfaceStatistics(1, 1_700_000_000_100_000, 1_700_000_000_000_000, 2, 0, 2);
        return w.Written.ToArray();
    }

    [Fact]
    public void TsharkReadsInterfaceNamesDirectionsLengthsAndBytes()
    {
        var file = Path.Combine(_dir, "sample.pcapng");
        File.WriteAllBytes(file, Sample());
        var (status, output, err) = Sh.Capture(null, null, 60, "tshark", "-r", file, "-T", "fields",
            "-e", "frame.interface_name", "-e", "frame.packet_flags_direction", "-e", "frame.len", "-e", "frame.cap_len", "-e", "eth.src", "-e", "frame.time_epoch");
        Assert.True(status == 0, err);
        Assert.Equal(
            ["vm1\t0x00000002\t60\t60\t02:00:00:00:00:01\t1700000000.000001000",
             "vm1\t0x00000001\t1515\t1515\t02:00:00:00:00:02\t1700000000.000002000",
             "eth1\t0x00000001\t1500\t100\t02:00:00:00:00:03\t1700000000.000003000",
             "eth1\t0x00000002\t61\t61\t02:00:00:00:00:04\t1700000000.000004000"],
            output.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        // the bytes, as tcpdump dumps them
        var (tstatus, dump, terr) = Sh.Capture(null, null, 60, "tcpdump", "-r", file, "-nn", "-xx");
        Assert.True(tstatus == 0, terr);
        string hex = string.Concat(dump.Split('\n').Where(l => l.StartsWith("\t0x", StringComparison.Ordinal))
            .Select(l => l[(l.IndexOf(':', StringComparison.Ordinal) + 1)..].Replace(" ", "", StringComparison.Ordinal)));
        Assert.Equal(Convert.ToHexStringLower([.. Frame(60, 1), .. Frame(1515, 2), .. Frame(1500, 3).AsSpan(0, 100), .. Frame(61, 4)]), hex);

        // the statistics blocks are read as such
        var (cstatus, info, cerr) = Sh.Capture(null, null, 60, "capinfos", "-I", file);
        Assert.True(cstatus == 0, cerr);
        Assert.Contains("Number of stat entries = 1", info);
        Assert.Contains("vm1", info);
    }

    [Fact]
    public void TheBlockCheckerAcceptsTheWritersOutputInAnyWholeBlockPieces()
    {
        var sample = Sample();
        Assert.Equal(4, CaptureStream.CheckBlocks(sample, first: true));
        // split after the section header and the interface blocks, as mvtapd sends them
        int cut = BlockEnd(sample, 3);
        Assert.Equal(0, CaptureStream.CheckBlocks(sample.AsSpan(0, cut), first: true));
        Assert.Equal(4, CaptureStream.CheckBlocks(sample.AsSpan(cut), first: false));
        // but not the rest first
        Assert.Throws<ControlProtocolException>(() => CaptureStream.CheckBlocks(sample.AsSpan(cut), first: true));
    }

    [Fact]
    public void CutsAndMutationsOfTheStreamAreRefusedAsMalformedAndNothingElse()
    {
        var sample = Sample();
        Gen.Select(Gen.Int[0, sample.Length], Gen.Int[0, sample.Length - 1], Gen.Byte, Gen.Bool).Sample((cut, at, value, first) =>
        {
            var mutated = sample.ToArray();
            mutated[at] = value;
            foreach (var bytes in new[] { sample.AsSpan(0, cut).ToArray(), mutated })
            {
                try { CaptureStream.CheckBlocks(bytes, first); }
                catch (ControlProtocolException) { }
            }
        }, iter: 20_000);
        // a cut inside a block is always refused
        Assert.Throws<ControlProtocolException>(() => CaptureStream.CheckBlocks(sample.AsSpan(0, sample.Length - 4), first: true));
        // a length that runs past the end, a trailer that disagrees, an unknown block type
        var bad = sample.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(bad.AsSpan(4), 0x7ffffffc);
        Assert.Throws<ControlProtocolException>(() => CaptureStream.CheckBlocks(bad, first: true));
        bad = sample.ToArray();
        bad[BlockEnd(sample, 1) - 4] ^= 4;
        Assert.Throws<ControlProtocolException>(() => CaptureStream.CheckBlocks(bad, first: true));
        bad = sample.ToArray();
        bad[BlockEnd(sample, 1)] = 0x77;
        Assert.Throws<ControlProtocolException>(() => CaptureStream.CheckBlocks(bad, first: true));
    }

    [Theory]
    [InlineData("{\"captured\":-1}")]
    [InlineData("null")]
    [InlineData("{\"captured\":\"x\"}")]
    [InlineData("[")]
    public void AMalformedSummaryIsRefused(string json) =>
        Assert.Throws<ControlProtocolException>(() => CaptureStream.DecodeSummary(System.Text.Encoding.UTF8.GetBytes(json)));

    // the offset just after the first `blocks` blocks
    private static int BlockEnd(byte[] data, int blocks)
    {
        int at = 0;
        for (int i = 0; i < blocks; i++) at += (int)BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(at + 4));
        return at;
    }
}
