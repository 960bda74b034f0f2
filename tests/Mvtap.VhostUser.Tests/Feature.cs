// Feature sets the tests negotiate.
using Mvtap.VhostUser.Net;

namespace Mvtap.VhostUser.Tests;

internal static class Feature
{
    /// <summary>What iPXE and passt-era frontends settle on.</summary>
    public const ulong Basic = VirtioNetFeatures.Version1 | VirtioNetFeatures.ProtocolFeatures;
    public const ulong Mrg = Basic | VirtioNetFeatures.MrgRxbuf;
    /// <summary>A Linux guest with offloads.</summary>
    public const ulong Offloads = Mrg | VirtioNetFeatures.Csum | VirtioNetFeatures.GuestCsum
        | VirtioNetFeatures.HostTso4 | VirtioNetFeatures.HostTso6 | VirtioNetFeatures.GuestTso4 | VirtioNetFeatures.GuestTso6;
}
