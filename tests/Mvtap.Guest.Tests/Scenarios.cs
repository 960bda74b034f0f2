// The guest scenarios, written once and run over each way of attaching a guest (the kernel's
// macvtap as reference, mvtap's vhost-user, stream and tap relay): a guest pings the external
// host on the lower's segment; two guests on one lower ping each other or, in vepa mode behind a
// switch without hairpin, do not. Every wait is bounded; results are the guest's own lines.
using Mvtap.Guest.Tests.Guest;

namespace Mvtap.Guest.Tests;

/// <summary>Starts guest number `guest` on an endpoint in `mode`, attached one particular way.</summary>
internal delegate GuestVm Attach(int guest, string mode, GuestConfig config);

internal static class Scenarios
{
    // Generous for a cold ARP and a slow TCG guest; the guest stops at the first reply.
    private const int Tries = 30;
    // A refused peer gets the same attempts as a reachable one would need: a few echo requests
    // with ARP retried each time. Counts, not durations, bound it.
    private const int RefusedTries = 5;

    internal static TimeSpan PingWait(int tries) => GuestVm.BootWait + TimeSpan.FromSeconds(tries * 2);

    /// <summary>The seed's promise: the guest shows up on the lower's segment with its own MAC.</summary>
    public static void GuestPingsExternalHost(GuestLab lab, Attach attach)
    {
        var config = new GuestConfig(GuestLab.GuestAddress(0), lab.GuestMac(0), [GuestLab.ExternalAddress], Tries);
        using var vm = attach(0, "bridge", config);
        Assert.Equal($"MVTAP-UP {config.Mac}", vm.WaitFor("MVTAP-UP", GuestVm.BootWait));
        Assert.True(vm.PingResult(GuestLab.ExternalAddress, PingWait(Tries)), $"guest could not ping the external host:\n{vm.Output}");
        // The external host learned the guest's own MAC for its address: the guest, not the host, answered.
        Assert.Equal(config.Mac, lab.ExternalNeighbour(config.Address));
        vm.WaitFor("MVTAP-OFF", TimeSpan.FromSeconds(30));
    }

    /// <summary>Two guests on one lower: in bridge mode they reach each other directly; in vepa
    /// mode only through a hairpin switch, so without it they do not, and turning hairpin on in
    /// the same run makes them reach each other (the refusal was the mode, not a dead guest).</summary>
    public static void TwoGuests(GuestLab lab, Attach attach, string mode)
    {
        var configs = Enumerable.Range(0, 2)
            .Select(i => new GuestConfig(GuestLab.GuestAddress(i), lab.GuestMac(i), [GuestLab.ExternalAddress], Tries, Serve: true))
            .ToArray();
        // Both boot at once: the boot is the slow part under TCG.
        using var a = attach(0, mode, configs[0]);
        using var b = attach(1, mode, configs[1]);
        // Each guest first proves its own link to the external host.
        foreach (var vm in new[] { a, b })
            Assert.True(vm.PingResult(GuestLab.ExternalAddress, PingWait(Tries)), $"{vm.Name} could not ping the external host:\n{vm.Output}");

        var peer = GuestLab.GuestAddress(1);
        if (mode == "bridge")
        {
            Assert.True(a.Ping(peer, Tries), $"bridge mode: guest A could not ping guest B:\nA:\n{a.Output}\nB:\n{b.Output}");
            Assert.True(b.Ping(GuestLab.GuestAddress(0), Tries), $"bridge mode: guest B could not ping guest A:\n{b.Output}");
        }
        else
        {
            Assert.False(a.Ping(peer, RefusedTries), $"{mode} mode without hairpin: guest A reached guest B:\n{a.Output}");
            lab.SetHairpin(true);
            Assert.True(a.Ping(peer, Tries), $"{mode} mode with a hairpin switch: guest A could not ping guest B:\nA:\n{a.Output}\nB:\n{b.Output}");
        }
    }
}
