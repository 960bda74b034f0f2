// "Does A reach B?" on the simulated network, the way ping finds out: an ARP request
// broadcast that B must hear, B's unicast reply, then an echo request and reply. Private
// mode's isolation shows here as it does on a real network: the ARP broadcast never arrives.
using System.Buffers.Binary;
using Mvtap.Core.Frames;

namespace Mvtap.Core.Sim;

public static class SimPing
{
    private const ushort EtherTypeEcho = 0x88B5; // IEEE local experimental: stands for ICMP echo

    public static bool Reaches(SimNetwork net, SimStation a, SimStation b)
    {
        uint tag = (uint)Random.Shared.Next();
        return Exchange(net, a, MacAddress.Broadcast, b, EthernetFrame.EtherTypeArp, tag)      // who-has B
            && Exchange(net, b, a.Mac, a, EthernetFrame.EtherTypeArp, tag + 1)                // B is-at
            && Exchange(net, a, b.Mac, b, EtherTypeEcho, tag + 2)                             // echo request
            && Exchange(net, b, a.Mac, a, EtherTypeEcho, tag + 3);                            // echo reply
    }

    private static bool Exchange(SimNetwork net, SimStation from, MacAddress dst, SimStation to, ushort etherType, uint tag)
    {
        net.ClearInboxes();
        var frame = new byte[60];
        EthernetFrame.WriteHeader(frame, dst, from.Mac, etherType);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(14), tag);
        from.Send(frame);
        foreach (var f in to.Accepted)
            if (EthernetFrame.EtherType(f.Frame) == etherType && BinaryPrimitives.ReadUInt32BigEndian(f.Frame.AsSpan(14)) == tag)
                return true;
        return false;
    }
}
