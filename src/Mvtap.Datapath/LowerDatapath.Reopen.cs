// Reopening the lower is an operation of the datapath, not a teardown: the Port, its endpoints and
// their attachments stay; the lower's opening (socket, ring, filter memberships) is replaced and
// the thread is told through its command queue to read the new socket. Losing the lower (deleted,
// moved out of reach) is the same with no socket: the endpoints lose carrier, keep everything else.
using Mvtap.Linux.Netlink;

namespace Mvtap.Datapath;

public sealed partial class LowerDatapath
{
    /// <summary>Makes <paramref name="opening"/> (of <paramref name="link"/>) the lower's and forwards
    /// through it; the port takes the new interface's facts (MAC, MTU, state).</summary>
    internal void ReopenLower(LowerOpening opening, LowerStatus status, LinkInfo link)
    {
        Lower.Install(opening, status);
        SwapLowerSocket(opening.Socket);
        Port.OnLowerReplaced(link.Address!.Value, (int)link.Mtu, PacketLower.MaxMtuOf(link), opening.SupportsUnicastFilter,
            link.IsUp, PacketLower.CarrierOf(link));
    }

    /// <summary>The lower has no interface to open any more: its endpoints lose carrier (and say why,
    /// <paramref name="status"/>), and the thread lets go of the old socket.</summary>
    internal void LoseLower(LowerStatus status)
    {
        Port.OnLowerStateChanged(up: false, carrier: false);
        Lower.Install(null, status);
        SwapLowerSocket(null);
    }
}
