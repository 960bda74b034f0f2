// A `sim` lower: the built-in simulated external switch (design.md), for use without root and
// for demos. Its endpoints exist only in the port; nothing outside mvtapd carries their frames.
using Mvtap.Core.Model;
using Mvtap.Core.Sim;

namespace Mvtap.Daemon.Lowers;

public sealed class SimLowerHost(string name) : ILowerHost
{
    private readonly SimNetwork _network = new(hairpin: name.Contains("hairpin", StringComparison.Ordinal));

    public string Name { get; } = name;
    public string Kind => "sim";
    public Port Port => _network.Port;

    public Endpoint AddEndpoint(EndpointSettings settings, EndpointKind kind, string? netns, string? innerName = null)
    {
        if (netns is not null)
            throw new MvtapException(Errno.EOPNOTSUPP, $"endpoints of the sim lower {Name} cannot live in a namespace");
        return _network.Port.Create(settings);
    }

    public void RemoveEndpoint(Endpoint endpoint) => _network.Port.Delete(endpoint);

    public void MoveToNamespace(Endpoint endpoint, string netns) =>
        throw new MvtapException(Errno.EOPNOTSUPP, $"endpoints of the sim lower {Name} cannot move to a namespace");

    public void EndpointChanged(Endpoint endpoint) { }

    // Nothing outside mvtapd carries a sim endpoint's frames.
    public void OpenAttachmentPoints(Endpoint endpoint, int index, string? owner, string? group, string runDir,
        GuestMemoryPolicy guestMemory, string? vhostUserPath = null, bool vhostUserConnect = false, bool vhostUserRootPeer = true) { }

    public Linux.TapDevice OpenTap(Endpoint endpoint) =>
        throw new MvtapException(Errno.EOPNOTSUPP, $"endpoints of the sim lower {Name} have no tap: nothing outside mvtapd carries their frames");

    public void Dispose() { }

    public static bool IsSimName(string name) => name.StartsWith("sim", StringComparison.Ordinal);
}
