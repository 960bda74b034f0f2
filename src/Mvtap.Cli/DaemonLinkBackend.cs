// ILinkBackend over mvtapd's control socket: one request, one response per operation.
using Mvtap.Control;

namespace Mvtap.Cli;

internal sealed class DaemonLinkBackend(ControlClient client) : ILinkBackend
{
    public void Add(LinkAddRequest request) => Execute(request);
    public void Set(LinkSetRequest request) => Execute(request);
    public void Delete(LinkDelRequest request) => Execute(request);
    public IReadOnlyList<LinkView> Show(LinkShowRequest request) => Execute(request);

    private List<LinkView> Execute(ControlRequest request)
    {
        var response = client.Send(request);
        if (!response.Ok)
            throw new LinkOperationException(response.Error?.Errno ?? 0, response.Error?.Message ?? "");
        return response.Links ?? [];
    }
}
