// Follows the lower devices' link state: a netlink socket subscribed to RTNLGRP_LINK in the
// switch's namespace, read by one small thread. Carrier and admin state go to the port
// (spec 4.5: endpoints lose carrier with the lower and nothing is delivered, X09), and so do
// MTU decreases (4.3) and MAC changes (4.4, A16).
using System.Buffers.Binary;
using Mvtap.Core.Model;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

namespace Mvtap.Linux.Datapath;

internal sealed class LowerLinkMonitor : IDisposable
{
    private const ushort RTM_NEWLINK = 16;
    private readonly RtnetlinkSubscription _socket;
    private readonly Func<int, Port?> _portOfIndex;
    private readonly Thread _thread;
    private volatile bool _stopping;

    public LowerLinkMonitor(string? netns, Func<int, Port?> portOfIndex)
    {
        _portOfIndex = portOfIndex;
        _socket = netns is null ? Open() : NetNamespace.Run(netns, Open);
        _thread = new Thread(Run) { IsBackground = true, Name = "mvtap link monitor" };
        _thread.Start();
    }

    private static RtnetlinkSubscription Open() => new([RtnetlinkSubscription.RTNLGRP_LINK]);

    private void Run()
    {
        var buffer = new byte[64 * 1024];
        while (!_stopping)
        {
            // bounded wait so Dispose is noticed
            if ((Sockets.Poll(_socket.Fd, Sockets.POLLIN, 200) & Sockets.POLLIN) == 0) continue;
            int n = _socket.Receive(buffer);
            if (n <= 0) continue; // ENOBUFS after an overflow: the next event carries the full state again
            Dispatch(buffer.AsMemory(0, n));
        }
    }

    private void Dispatch(ReadOnlyMemory<byte> messages)
    {
        int offset = 0;
        while (offset + 16 <= messages.Length)
        {
            var span = messages.Span[offset..];
            int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(span);
            ushort type = BinaryPrimitives.ReadUInt16LittleEndian(span[4..]);
            if (length < 16 || offset + length > messages.Length) return;
            if (type == RTM_NEWLINK)
            {
                try { Apply(LinkInfo.Parse(messages.Slice(offset + 16, length - 16))); }
                catch (Exception e) when (e is InvalidDataException or ArgumentException or MvtapException) { /* a malformed or refused event: the next one carries the state again */ }
            }
            offset += NetlinkAbi.Align(length);
        }
    }

    private void Apply(LinkInfo link)
    {
        if (_portOfIndex(link.Index) is not { } port) return;
        var lower = port.Lower;
        bool carrier = link.Carrier ?? link.IsLowerUp;
        if (lower.IsUp != link.IsUp || lower.HasCarrier != carrier) port.OnLowerStateChanged(link.IsUp, carrier);
        if (link.Mtu != 0 && (int)link.Mtu != lower.Mtu) port.OnLowerMtuChanged((int)link.Mtu);
        // a change mvtap asked for itself (passthru, spec 4.4) is already the port's MAC here
        if (link.Address is { } mac && mac != lower.Mac) port.OnLowerMacChanged(mac);
    }

    public void Dispose()
    {
        _stopping = true;
        _thread.Join(2000);
        _socket.Dispose();
    }
}
