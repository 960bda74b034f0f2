// veth pairs: the wire between an endpoint interface and the datapath, and test topology.
using Mvtap.Core.Frames;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

namespace Mvtap.Linux;

public static class Veth
{
    /// <summary>
    /// Creates veth <paramref name="name"/> with peer <paramref name="peerName"/> in <paramref name="rtnl"/>'s
    /// namespace; the peer is created directly inside <paramref name="peerNamespace"/> when given.
    /// </summary>
    public static void Create(Rtnetlink rtnl, string name, string peerName, FileDescriptor? peerNamespace = null,
        MacAddress? address = null, MacAddress? peerAddress = null, uint? mtu = null)
    {
        rtnl.CreateLink(new LinkRequest
        {
            Name = name,
            Kind = "veth",
            Address = address,
            Mtu = mtu,
            VethPeer = new LinkRequest
            {
                Name = peerName,
                Address = peerAddress,
                Mtu = mtu,
                NetNsFd = peerNamespace,
            },
        });
    }
}
