// The tap relay (spec hypervisor-attachment 4.5) as one part of a macvtap endpoint: a kernel
// TAP whose queue descriptor the hypervisor holds (mvtap run → fd 3), and an AF_PACKET socket
// on the TAP's network side that the datapath reads and writes like a veth's outer end. Frames
// the hypervisor writes on its fd arrive here; frames sent here reach its fd. The TAP is not
// persistent: when the hypervisor's last descriptor closes, the interface goes away, the socket
// reports an error, and the relay lets go of the endpoint's GuestClaim for the next guest.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Linux;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

namespace Mvtap.Datapath;

public sealed class TapRelayAttachment : IEndpointAttachment, IDisposable
{
    private readonly GuestClaim _slot;
    private readonly int _slotId;
    private readonly SwappablePacketIo _socket;
    private long _relays;

    public TapRelayAttachment(Endpoint endpoint, GuestClaim slot, int slotId)
    {
        Endpoint = endpoint;
        _slot = slot;
        _slotId = slotId;
        _socket = new SwappablePacketIo(this);
    }

    public Endpoint Endpoint { get; }
    public long Relays => Volatile.Read(ref _relays);
    public bool IsRelaying => _socket.HasSocket;

    /// <summary>Creates a kernel TAP in <paramref name="netns"/> (null: ours) as `ip tuntap` would for a VM
    /// (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, TUNSETSNDBUF INT_MAX, checksum and TSO offloads), its largest MTU, brings it up and
    /// relays its network side into the datapath. Returns the TAP (its queue descriptor is for the
    /// hypervisor; close it once handed over). The caller has claimed the GuestClaim as this part's id.</summary>
    public TapDevice CreateTap(string? netns)
    {
        var tap = netns is null ? TapDevice.Create("mvt%d", vnetHeader: true) : NetNamespace.Run(netns, () => TapDevice.Create("mvt%d", vnetHeader: true));
        try
        {
            tap.SetSendBuffer(int.MaxValue);
            tap.SetOffload(Tun.TUN_F_CSUM | Tun.TUN_F_TSO4 | Tun.TUN_F_TSO6);
            using var rtnl = netns is null ? new Rtnetlink() : Rtnetlink.InNamespace(netns);
            var link = rtnl.GetLink(tap.Name) ?? throw new SystemCallException($"tap {tap.Name} vanished", 19);
            // The kernel's macvtap hands its reader frames larger than the MTU (a reassembled multicast
            // datagram, spec 3.8); an AF_PACKET send is refused above the TAP's MTU, so the TAP takes
            // its largest (65521). Nothing else reads it: the hypervisor's writes are not checked against it.
            rtnl.SetLink(new LinkRequest { Name = tap.Name, Mtu = link.MaxMtu ?? 65521 });
            rtnl.SetUp(tap.Name, true);
            var socket = PacketLower.Open(netns, link.Index);
            try
            {
                // the hypervisor's frames carry the guest's MAC, not the TAP's
                socket.SetPromiscuous(true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
            Relay(socket);
            return tap;
        }
        catch
        {
            tap.Dispose();
            throw;
        }
    }

    /// <summary>Starts relaying through <paramref name="socket"/> (an AF_PACKET socket on the new TAP).
    /// The caller has claimed the GuestClaim as this part's id; the socket is ours from here on.</summary>
    public void Relay(PacketSocket socket)
    {
        Interlocked.Increment(ref _relays);
        _socket.Offer(socket);
    }

    public void SetDatapath(LowerDatapath? datapath)
    {
        if (_socket.SetDatapath(datapath)) _slot.Release(_slotId);
    }

    // Runs on the datapath thread (Register, after the resync Relay asked for): adopt the socket.
    public int GetPollFds(Span<int> fds) => _socket.GetPollFds(fds);

    public int ReceiveBatch(int source, SocketFrameBatch scratch)
    {
        if (_socket.Current is not { } io) return 0;
        int n = io.ReceiveBatch(scratch);
        if (n < 0)
        {
            // ENETDOWN/ENXIO: the hypervisor closed the TAP and the interface is gone
            Close();
            return 0;
        }
        return n;
    }

    public ReceivedFrame GetFrame(int i, SocketFrameBatch scratch, out ReadOnlySpan<byte> frame, out VirtioNetHeader vnet) =>
        _socket.Current!.GetFrame(i, scratch, out frame, out vnet);

    public void EndReceive() => _socket.Current?.EndReceive();
    public bool ReceivePending => _socket.Current?.ReceivePending ?? false;
    public int PendingSource => 0;

    public void Deliver(in VnetFrame packet)
    {
        if (_socket.Current is { } io) io.Deliver(packet);
        else Endpoint.Counters.CountRxDrop(DropReason.NoGuest);
    }

    public void Flush() => _socket.Current?.Flush();

    private void Close()
    {
        if (_socket.Close()) _slot.Release(_slotId);
    }

    /// <summary>After the datapath let go.</summary>
    public void Dispose()
    {
        Close();
        _socket.Dispose();
    }
}
