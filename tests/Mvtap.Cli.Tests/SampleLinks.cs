// LinkView samples used by the printer, qemu and CLI tests: the seed's macvtap0 on eth1.
using Mvtap.Control;

namespace Mvtap.Cli.Tests;

internal static class SampleLinks
{
    public static LinkView Macvtap0 => new()
    {
        Index = 4,
        Name = "macvtap0",
        Type = "macvtap",
        Lower = "eth1",
        Mac = "1a:46:0b:ca:bc:7b",
        Mode = "vepa",
        AdminUp = true,
        Carrier = true,
        OperState = "UP",
        Mtu = 1500,
        TxQueueLen = 500,
        BcQueueLen = 1000,
        UsedBcQueueLen = 1000,
        SpoofCheck = true,
        GuestMemory = "sealed",
        VhostUserPath = "/run/mvtap/tap4.vhost",
        StreamPath = "/run/mvtap/tap4.stream",
    };

    public static LinkView SourceMacvlan => new()
    {
        Index = 7,
        Name = "mv1",
        Type = "macvlan",
        Lower = "eth1",
        Mac = "96:27:69:1d:2e:21",
        Mode = "source",
        Flags = ["nodst"],
        AdminUp = false,
        Carrier = true,
        OperState = "DOWN",
        TxQueueLen = 1000,
        BcQueueLen = 7,
        UsedBcQueueLen = 1000,
        BcCutoff = -1,
        Macaddrs = ["02:00:00:00:00:01", "02:00:00:00:00:02"],
        SpoofCheck = false,
        Owner = "alice",
        Group = "kvm",
        Netns = "ns1",
    };
}
