// What `mvtap doctor` checks against: the configuration mvtapd runs with (state directory, socket
// group, the lowers' namespace, the run directory whose mvtapd is asked for its lowers) and the
// places each check looks at. Every place is a setting so a test can point one check at a path,
// device or socket family it controls and see that check's failing path for real.
namespace Mvtap.Cli.Doctor;

internal sealed record DoctorSettings
{
    public const string DefaultUnitPath = "/etc/systemd/system/mvtapd.service";

    public required string RunDir { get; init; }
    public string StateDir { get; init; } = "/var/lib/mvtap";
    /// <summary>The control socket's group: given, else the one the unit file passes, else the socket's own.</summary>
    public string? SocketGroup { get; init; }
    /// <summary>mvtapd's --netns: where its lowers live; null = this namespace.</summary>
    public string? Netns { get; init; }
    /// <summary>Lowers to check besides those mvtapd has.</summary>
    public List<string> Lowers { get; init; } = [];

    public string TunDevice { get; init; } = Mvtap.Linux.Interop.Tun.CloneDevice;
    /// <summary>The socket family the AF_PACKET check opens (AF_PACKET).</summary>
    public int PacketFamily { get; init; } = Mvtap.Linux.Interop.Sockets.AF_PACKET;
    /// <summary>A file whose seals the sealing check tries; null = a fresh memfd, what QEMU shares.</summary>
    public string? SealProbe { get; init; }
    /// <summary>Exists when systemd is the init system (sd_booted(3)).</summary>
    public string SystemdRunDir { get; init; } = "/run/systemd/system";
    public string UnitPath { get; init; } = DefaultUnitPath;
    /// <summary>Free space under which the state directory's file system is a warning; a state
    /// file that cannot be written (less than <see cref="MinimumFreeBytes"/>) is an error.</summary>
    public long LowFreeBytes { get; init; } = 64L << 20;
    public long MinimumFreeBytes { get; init; } = 1L << 20;
}
