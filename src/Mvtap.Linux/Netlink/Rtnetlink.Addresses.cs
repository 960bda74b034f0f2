// IP addresses of links through rtnetlink (RTM_NEWADDR, RTM_GETADDR): what a CNI plugin puts on
// a container's NIC from its IPAM result, and reads back to CHECK it.
using System.Net;
using System.Net.Sockets;
using Mvtap.Linux.Interop;

namespace Mvtap.Linux.Netlink;

/// <summary>One address on a link, as RTM_GETADDR reports it; Flags are IFA_F_* (IFA_FLAGS when present).</summary>
public sealed record AddressInfo(int Index, IPAddress Address, int PrefixLength, uint Flags)
{
    public bool IsTentative => (Flags & Rtnl.IFA_F_TENTATIVE) != 0 && (Flags & Rtnl.IFA_F_DADFAILED) == 0;
}

public sealed partial class Rtnetlink
{
    /// <summary>Adds ADDRESS/PREFIX to link <paramref name="index"/> (`ip address add`); an IPv4 address
    /// below /31 gets its subnet's broadcast address, as iproute2's `brd +` gives it.</summary>
    public void AddAddress(int index, IPAddress address, int prefixLength)
    {
        bool v4 = address.AddressFamily == AddressFamily.InterNetwork;
        var b = new NetlinkMessageBuilder(Rtnl.RTM_NEWADDR, NetlinkAbi.NLM_F_REQUEST | NetlinkAbi.NLM_F_CREATE | NetlinkAbi.NLM_F_EXCL)
            .Struct(new IfAddrMsg { Family = v4 ? Rtnl.AF_INET : Rtnl.AF_INET6, PrefixLength = (byte)prefixLength, Index = index });
        var bytes = address.GetAddressBytes();
        b.Attribute(Rtnl.IFA_LOCAL, bytes);
        b.Attribute(Rtnl.IFA_ADDRESS, bytes);
        if (v4 && prefixLength < 31)
        {
            uint host = prefixLength == 0 ? uint.MaxValue : uint.MaxValue >> prefixLength;
            uint a = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes) | host;
            var brd = new byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(brd, a);
            b.Attribute(Rtnl.IFA_BROADCAST, brd);
        }
        Run(b, $"add address {address}/{prefixLength} to #{index}");
    }

    /// <summary>Every address of the namespace, or of link <paramref name="index"/> only.</summary>
    public IReadOnlyList<AddressInfo> GetAddresses(int? index = null)
    {
        var b = new NetlinkMessageBuilder(Rtnl.RTM_GETADDR, NetlinkAbi.NLM_F_REQUEST | NetlinkAbi.NLM_F_DUMP).Struct(new IfAddrMsg());
        var list = new List<AddressInfo>();
        foreach (var m in Run(b, "RTM_GETADDR dump"))
        {
            if (m.Type != Rtnl.RTM_NEWADDR || m.Payload.Length < 8) continue;
            var msg = System.Runtime.InteropServices.MemoryMarshal.Read<IfAddrMsg>(m.Payload.Span);
            if (index is int i && msg.Index != i) continue;
            var a = new NetlinkAttributes(m.Payload[8..]);
            var raw = a.Bytes(Rtnl.IFA_LOCAL) ?? a.Bytes(Rtnl.IFA_ADDRESS);
            if (raw is not { Length: 4 or 16 } r) continue;
            list.Add(new AddressInfo(msg.Index, new IPAddress(r.Span), msg.PrefixLength, a.U32(Rtnl.IFA_FLAGS) ?? msg.Flags));
        }
        return list;
    }
}
