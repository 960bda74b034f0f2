// Where `mvtap link ...` is carried out: the mvtapd daemon over the control socket
// (DaemonLinkBackend) or, with `mvtap --kernel`, the real kernel through rtnetlink (to come).
// A refusal is a LinkOperationException carrying the kernel-style errno and message.
using Mvtap.Control;

namespace Mvtap.Cli;

internal interface ILinkBackend
{
    void Add(LinkAddRequest request);
    void Set(LinkSetRequest request);
    void Delete(LinkDelRequest request);
    /// <summary>All endpoints, or the one named (a missing name is refused with ENODEV).</summary>
    IReadOnlyList<LinkView> Show(LinkShowRequest request);
}
