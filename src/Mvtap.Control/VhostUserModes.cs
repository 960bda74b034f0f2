// The words of a macvtap endpoint's vhost-user role (`vhost-user { listen | connect PATH }`):
// "listen", the default, where mvtapd binds the socket and the frontend (QEMU, libvirt
// mode='client') dials it, and "connect", where the frontend listens (QEMU server=on, libvirt
// mode='server') and mvtapd dials it and dials again after each drop.
namespace Mvtap.Control;

public static class VhostUserModes
{
    public const string Listen = "listen";
    public const string Connect = "connect";

    public static readonly IReadOnlyList<string> All = [Listen, Connect];

    public static bool IsKnown(string? word) => word is Listen or Connect;
}
