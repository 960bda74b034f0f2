// What one guest does, written onto its kernel command line for Guest/init.sh to read: a fixed
// address, or (Address = DhcpAddress) one asked for with busybox udhcpc.
namespace Mvtap.Guest.Tests.Guest;

internal sealed record GuestConfig(string Address, string Mac, string[] Pings, int Tries = 30, bool Serve = false)
{
    /// <summary>The Address that makes the guest take its address by DHCP (mvtap.ip=dhcp).</summary>
    public const string DhcpAddress = "dhcp";

    /// <summary>A guest that asks for its address by DHCP, then pings the targets.</summary>
    public static GuestConfig Dhcp(string mac, string[] pings, int tries = 30, bool serve = false) =>
        new(DhcpAddress, mac, pings, tries, serve);

    // quiet: the kernel's boot log costs time on an emulated UART; loglevel=1 also keeps late
    // kernel messages from landing inside a result line; panic=-1 with -no-reboot turns a guest
    // panic into a QEMU exit instead of a hang. no_timer_check: under TCG on a loaded host the
    // emulated timer interrupt can miss the boot-time IO-APIC check, which then panics ("IO-APIC +
    // timer doesn't work!"); the check proves nothing about the network under test.
    public string CommandLine =>
        $"console=ttyS0 quiet loglevel=1 panic=-1 no_timer_check mvtap.ip={(Address == DhcpAddress ? DhcpAddress : Address + "/24")} mvtap.mac={Mac}"
        + (Pings.Length > 0 ? $" mvtap.ping={string.Join(',', Pings)}" : "")
        + $" mvtap.tries={Tries}" + (Serve ? " mvtap.serve=1" : "");
}
