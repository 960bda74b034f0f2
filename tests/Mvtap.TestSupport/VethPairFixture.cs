// A namespace holding one veth pair, both ends up: the wire most datapath tests send over.
using Mvtap.Core.Frames;
using Mvtap.Linux;
using Mvtap.Linux.Netlink;

namespace Mvtap.TestSupport;

public sealed class VethPair : IDisposable
{
    public TestNamespace Namespace { get; } = new();
    public Rtnetlink Rtnl { get; }
    public LinkInfo A { get; }
    public LinkInfo B { get; }
    public MacAddress MacA => A.Address!.Value;
    public MacAddress MacB => B.Address!.Value;

    public VethPair()
    {
        try
        {
            Rtnl = Rtnetlink.InNamespace(Namespace.Name);
            Veth.Create(Rtnl, "pa0", "pb0", address: TestNet.RandomMac(), peerAddress: TestNet.RandomMac());
            Rtnl.SetUp("pa0", true);
            Rtnl.SetUp("pb0", true);
            A = Rtnl.GetLink("pa0")!;
            B = Rtnl.GetLink("pb0")!;
        }
        catch
        {
            Rtnl?.Dispose();
            Namespace.Dispose();
            throw;
        }
    }

    /// <summary>Opens a packet socket on <paramref name="ifIndex"/> inside the pair's namespace.</summary>
    public PacketSocket Open(int ifIndex, PacketSocketOptions? options = null) =>
        NetNamespace.Run(Namespace.Name, () => new PacketSocket(ifIndex, options));

    public void Dispose()
    {
        Rtnl.Dispose();
        Namespace.Dispose();
    }
}
