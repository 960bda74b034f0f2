// Small-frame rate tool of the end-to-end benchmark (bench/e2e/run.sh), run inside a namespace
// with `ip netns exec`. iperf3 sends one UDP datagram per system call and tops out far below what
// a forwarder can carry, so the 64-byte rate is measured with AF_PACKET on both ends instead:
//   send <ifname> <dst-mac> <seconds>: 60-byte frames (64 on a wire with FCS), ethertype 0x88B5,
//     from the interface's own MAC, 64 per sendmmsg, as fast as the socket takes them;
//   recv <ifname> <seconds>: counts those frames arriving on the interface (TPACKET_V3 ring) and
//     prints "<frames> <frames per second between the first and the last>".
// The same tool and the same frames serve the kernel's macvlan and mvtap alike.
using System.Diagnostics;
using Mvtap.Core.Frames;
using Mvtap.Linux;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

if (args.Length < 3) { Console.Error.WriteLine("usage: send <if> <dst-mac> <s> | recv <if> <s>"); return 2; }
LinkInfo link;
using (var rtnl = new Rtnetlink()) link = rtnl.GetLink(args[1]) ?? throw new ArgumentException($"no interface {args[1]}");

if (args[0] == "send")
{
    var dst = MacAddress.Parse(args[2]);
    var seconds = double.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture);
    using var s = new PacketSocket(link.Index, new PacketSocketOptions { Protocol = 0, SendBuffer = 4 << 20, QdiscBypass = false });
    using var batch = new SocketFrameBatch(64, 128);
    var frame = new byte[60];
    dst.Write(frame);
    link.Address!.Value.Write(frame.AsSpan(6));
    frame[12] = 0x88; frame[13] = 0xB5;
    for (int i = 0; i < batch.Capacity; i++) batch.TryAdd(frame);
    long sent = 0;
    var sw = Stopwatch.StartNew();
    while (sw.Elapsed.TotalSeconds < seconds)
    {
        int n = s.SendBatch(batch);
        if (n == 0) { Thread.Yield(); continue; } // buffer full: let the consumer run
        sent += n;
    }
    Console.WriteLine($"{sent} {sent / sw.Elapsed.TotalSeconds:F0}");
    return 0;
}
else
{
    var seconds = double.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
    using var s = new PacketSocket(link.Index, new PacketSocketOptions { Protocol = 0x88B5, RxRing = new PacketRingGeometry(1 << 22, 16, 10) });
    var ring = s.Ring!;
    long count = 0, first = 0, last = 0;
    var sw = Stopwatch.StartNew();
    while (sw.Elapsed.TotalSeconds < seconds)
    {
        if (!s.WaitReadable(100)) continue;
        long now = Stopwatch.GetTimestamp();
        while (ring.TryReceive(out var f))
        {
            if (f.PacketType == PacketAbi.PACKET_OUTGOING) continue;
            if (count == 0) first = now;
            count++;
            last = now;
        }
        ring.ReleaseCurrent();
    }
    double span = (last - first) / (double)Stopwatch.Frequency;
    Console.WriteLine($"{count} {(span > 0 ? count / span : 0):F0}");
    return 0;
}
