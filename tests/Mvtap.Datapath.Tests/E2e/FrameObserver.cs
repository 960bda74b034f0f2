// One observation point of the differential tests (spec Appendix A): an AF_PACKET socket bound
// to one interface that keeps the test frames it sees (ethertype 0x88B5 or PAUSE 0x8808, tag in
// the first payload bytes), ignoring the interface's own transmissions. It reads through a
// TPACKET_V3 ring because the ring reports the VLAN tag the kernel stripped on receive
// (skb_vlan_untag runs before any tap): the tag is put back, so a frame is compared byte for
// byte as it was on the wire. A protocol-specific socket can also be limited to frames whose
// ifindex is the bound interface: that is how "reached the lower's own stack" is seen.
// The kernel hands a block of the ring over when it is full or its retire timer runs out, so frames
// that trickle in take a block each; a ring whose blocks are all waiting to be drained drops frames
// (tp_drops). The ring has blocks for that (16, retired after 10 ms: 160 ms or more undrained on a
// loaded machine), and what it dropped anyway is counted (Drops), so that an observation with a
// hole in it is never taken for a frame that did not arrive.
using Mvtap.Linux;
using Mvtap.Linux.Interop;

namespace Mvtap.Datapath.Tests.E2e;

internal sealed class FrameObserver : IDisposable
{
    public const ushort TestEtherType = 0x88B5;
    public const ushort PauseEtherType = 0x8808;

    private readonly PacketSocket _socket;
    private readonly int? _onlyIfIndex;

    /// <param name="ns">the namespace the interface is in.</param>
    /// <param name="ifIndex">the interface.</param>
    /// <param name="protocol">ETH_P_ALL for a tap; one ethertype for a protocol handler.</param>
    /// <param name="onlyOwnIfIndex">keep only frames reported with <paramref name="ifIndex"/> (a protocol socket on
    /// a macvlan lower also gets the frames macvlan re-injected as an endpoint, with the endpoint's ifindex).</param>
    public FrameObserver(string ns, int ifIndex, ushort protocol = PacketAbi.ETH_P_ALL, bool onlyOwnIfIndex = false)
    {
        _onlyIfIndex = onlyOwnIfIndex ? ifIndex : null;
        _socket = NetNamespace.Run(ns, () => new PacketSocket(ifIndex, new PacketSocketOptions
        {
            Protocol = protocol,
            RxRing = new PacketRingGeometry(1 << 17, 16, 10),
        }));
    }

    /// <summary>Test frames seen so far, as on the wire (VLAN tag re-inserted).</summary>
    public List<byte[]> Frames { get; } = [];

    /// <summary>Frames of any kind the ring had no room for, since the socket was made (PACKET_STATISTICS).</summary>
    public long Drops { get; private set; }

    /// <summary>Moves whatever the ring holds into <see cref="Frames"/>; returns how many test frames were added.</summary>
    public int Drain()
    {
        var ring = _socket.Ring!;
        int added = 0;
        while (ring.TryReceive(out var f))
        {
            if (f.PacketType == PacketAbi.PACKET_OUTGOING) continue;
            if (_onlyIfIndex is int only && f.IfIndex != only) continue;
            byte[] frame = (f.Status & PacketAbi.TP_STATUS_VLAN_VALID) != 0 ? WithTag(f.Data, f.VlanTci) : f.Data.ToArray();
            if (TagOf(frame) is null) continue;
            Frames.Add(frame);
            added++;
        }
        ring.ReleaseCurrent();
        Drops += _socket.ReadStatistics().Drops;
        return added;
    }

    private static byte[] WithTag(ReadOnlySpan<byte> untagged, ushort tci)
    {
        var f = new byte[untagged.Length + 4];
        untagged[..12].CopyTo(f);
        f[12] = 0x81; f[13] = 0x00;
        f[14] = (byte)(tci >> 8); f[15] = (byte)tci;
        untagged[12..].CopyTo(f.AsSpan(16));
        return f;
    }

    /// <summary>The tag of a test frame (behind one VLAN tag or none), null for any other frame.</summary>
    public static uint? TagOf(ReadOnlySpan<byte> eth)
    {
        int at = 12;
        if (eth.Length >= 16 && eth[12] == 0x81 && eth[13] == 0x00) at = 16;
        if (eth.Length < at + 6) return null;
        int type = eth[at] << 8 | eth[at + 1];
        if (type is not (TestEtherType or PauseEtherType)) return null;
        uint tag = BitConverter.ToUInt32(eth[(at + 2)..]);
        return (tag & 0xFFFF_0000) == E2eFrames.TagBase ? tag : null;
    }

    public void Dispose() => _socket.Dispose();
}
