// Cuts an IPv4 datagram too large for a receiver's MTU into fragments that fit, as the
// kernel's ip_do_fragment (slow path) does: every fragment carries the link-layer header
// (and VLAN tag) of the original, the first the whole IP header, the others the options
// without the "copied" bit turned into NOOPs (ip_options_fragment); payload in multiples of
// 8 bytes at mtu - IHL, MF on all but the last, which keeps the original's MF (a fragment can
// be cut again); DF and the ID are kept; tot_len and the header checksum are rewritten.
// Used to hand a veth-backed endpoint's stack a reassembled multicast datagram larger than its
// MTU, which the kernel's macvlan hands over whole (spec 3.8). Writes straight into the
// receiver's buffers through an ISegmentSink: no allocation.
using System.Buffers.Binary;

namespace Mvtap.Core.Frames;

public enum FragmentVerdict
{
    /// <summary>Every fragment was written to the sink.</summary>
    Fragmented,
    /// <summary>The IP datagram fits the MTU as it is: nothing written, deliver it whole.</summary>
    NotNeeded,
    /// <summary>Not an IPv4 datagram that can be cut (not IPv4, header inconsistent with the
    /// frame, an MTU below IHL + 8): nothing written.</summary>
    NotFragmentable,
    /// <summary>The sink ran out of room part way: the fragments before were written.</summary>
    SinkFull,
}

public static class Ipv4Fragmenter
{
    private static readonly VirtioNetHeader FragmentHeader = default;

    public static FragmentVerdict Fragment<TSink>(ReadOnlySpan<byte> frame, int mtu, ref TSink sink, out int written)
        where TSink : struct, ISegmentSink
    {
        written = 0;
        int net = Ipv4Fragment.FindIpv4(frame);
        if (net < 0 || frame.Length < net + 20) return FragmentVerdict.NotFragmentable;
        var ip = frame[net..];
        int ihl = (ip[0] & 0x0F) * 4;
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (ip[0] >> 4 != 4 || ihl < 20 || total < ihl || total > ip.Length) return FragmentVerdict.NotFragmentable;
        if (total <= mtu) return FragmentVerdict.NotNeeded;
        int chunk = (mtu - ihl) & ~7;
        if (chunk < 8) return FragmentVerdict.NotFragmentable;

        ushort flags = BinaryPrimitives.ReadUInt16BigEndian(ip[6..]);
        int baseOffset = (flags & Ipv4Fragment.OffsetMask) * 8;
        bool lastHasMore = (flags & Ipv4Fragment.FlagMoreFragments) != 0;
        ushort keep = (ushort)(flags & Ipv4Fragment.FlagDontFragment);
        var payload = ip[ihl..total];
        int headers = net + ihl;
        for (int done = 0; done < payload.Length; done += chunk)
        {
            int take = Math.Min(chunk, payload.Length - done);
            bool last = done + take == payload.Length;
            int length = headers + take;
            var dst = sink.Reserve(length);
            if (dst.Length < length) return FragmentVerdict.SinkFull;
            dst = dst[..length];
            frame[..headers].CopyTo(dst);
            payload.Slice(done, take).CopyTo(dst[headers..]);
            var h = dst[net..headers];
            if (done > 0) BlankUncopiedOptions(h[20..]);
            BinaryPrimitives.WriteUInt16BigEndian(h[2..], (ushort)(ihl + take));
            ushort fragOff = (ushort)(keep | ((baseOffset + done) >> 3));
            if (!last || lastHasMore) fragOff |= Ipv4Fragment.FlagMoreFragments;
            BinaryPrimitives.WriteUInt16BigEndian(h[6..], fragOff);
            InternetChecksum.WriteIpv4HeaderChecksum(h);
            sink.Commit(length, FragmentHeader);
            written++;
        }
        return FragmentVerdict.Fragmented;
    }

    // ip_options_fragment: options whose type lacks the copied bit (0x80) become NOOPs;
    // the header keeps its length. Malformed option lists are blanked from where they break.
    private static void BlankUncopiedOptions(Span<byte> options)
    {
        const byte End = 0, Noop = 1, Copied = 0x80;
        int i = 0;
        while (i < options.Length)
        {
            byte type = options[i];
            if (type == End) return;
            if (type == Noop) { i++; continue; }
            int len = i + 1 < options.Length ? options[i + 1] : 0;
            if (len < 2 || i + len > options.Length)
            {
                options[i..].Fill(Noop);
                return;
            }
            if ((type & Copied) == 0) options.Slice(i, len).Fill(Noop);
            i += len;
        }
    }
}
