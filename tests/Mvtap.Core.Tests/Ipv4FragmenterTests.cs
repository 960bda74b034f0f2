// Ipv4Fragmenter (ip_do_fragment's slow path): for random datagrams, MTUs, IHLs with copied and
// uncopied options and VLAN tags, every fragment fits the MTU, carries the link-layer header,
// a valid header checksum and the right offset and MF, and the fragments reassemble (through
// Ipv4Defragmenter) to the original datagram; options without the copied bit appear only in
// the first fragment.
using System.Buffers.Binary;
using CsCheck;
using Mvtap.Core.Forwarding;
using Mvtap.Core.Frames;
using static Mvtap.Core.Tests.FragmentFrames;

namespace Mvtap.Core.Tests;

public sealed class Ipv4FragmenterTests
{
    private struct Collect : ISegmentSink
    {
        public List<byte[]> Frames;
        private byte[] _slot;

        public Span<byte> Reserve(int length) => _slot = new byte[length];
        public void Commit(int length, in VirtioNetHeader header) => Frames.Add(_slot[..length]);
    }

    private static int Sum(ReadOnlySpan<byte> header)
    {
        uint sum = 0;
        for (int i = 0; i < header.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(header[i..]);
        while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
        return (int)sum;
    }

    [Fact]
    public void Fragments_fit_the_mtu_and_reassemble_to_the_datagram()
    {
        Gen.Select(Gen.Int[1, 65515 - 40], Gen.Int[68, 9000], Gen.Int[0, 10], Gen.Bool, Gen.Int).Sample((size, mtu, words, tagged, seed) =>
        {
            var payload = new byte[size];
            new Random(seed).NextBytes(payload);
            int ihl = 20 + 4 * words;
            if (size + ihl > 65535) return;
            // whole datagram: offset 0, no MF (Fragment() marks neither); options: a copied one (0x83 LSRR-like) then NOOPs
            var frame = Fragment(MacAddress.Broadcast, 42, 0, payload, more: false, ihl: ihl, df: true, vlan: tagged ? (ushort)12 : null);
            int net = tagged ? 18 : 14;
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(net + 6), 0x4000);
            if (words >= 2) { frame[net + 20] = 0x07; frame[net + 21] = 4; frame[net + 24] = 0x83; frame[net + 25] = 4; }
            InternetChecksum.WriteIpv4HeaderChecksum(frame.AsSpan(net, ihl));
            var sink = new Collect { Frames = [] };
            var verdict = Ipv4Fragmenter.Fragment(frame, mtu, ref sink, out int written);
            if (ihl + size <= mtu) { Assert.Equal(FragmentVerdict.NotNeeded, verdict); return; }
            if (mtu - ihl < 8) { Assert.Equal(FragmentVerdict.NotFragmentable, verdict); return; }
            Assert.Equal(FragmentVerdict.Fragmented, verdict);
            Assert.Equal(sink.Frames.Count, written);
            var d = new Ipv4Defragmenter();
            ReadOnlySpan<byte> whole = default;
            for (int i = 0; i < sink.Frames.Count; i++)
            {
                var f = sink.Frames[i];
                Assert.True(f.Length - net <= mtu);
                Assert.Equal(frame.AsSpan(0, net).ToArray(), f[..net]);
                Assert.Equal(0xFFFF, Sum(f.AsSpan(net, ihl)));
                ushort fo = BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(net + 6));
                Assert.Equal(i < sink.Frames.Count - 1, (fo & 0x2000) != 0);
                Assert.Equal(0x4000, fo & 0x4000);
                if (words >= 2) Assert.Equal(i == 0 ? (byte)0x07 : (byte)0x01, f[net + 20]); // uncopied option only in the first
                if (words >= 2) Assert.Equal(0x83, f[net + 24]);
                var r = d.Add(f, out whole);
                Assert.Equal(i < sink.Frames.Count - 1 ? Ipv4Defragmenter.Result.Held : Ipv4Defragmenter.Result.Complete, r);
            }
            Assert.Equal(payload, whole[(net + ihl)..].ToArray());
        }, iter: 300);
    }

    [Fact]
    public void A_frame_that_is_not_ipv4_is_left_to_the_caller()
    {
        var sink = new Collect { Frames = [] };
        Assert.Equal(FragmentVerdict.NotFragmentable, Ipv4Fragmenter.Fragment(Frames.Make(MacAddress.Broadcast, Frames.Ext, length: 3000), 1500, ref sink, out _));
        Assert.Empty(sink.Frames);
    }
}
