// A backend that records what the CLI asked for and answers from a fixed list of links, or
// refuses with a given errno and message: lets grammar tests see the exact request produced.
using Mvtap.Cli;
using Mvtap.Control;

namespace Mvtap.Cli.Tests;

internal sealed class RecordingLinkBackend : ILinkBackend
{
    public List<ControlRequest> Requests { get; } = [];
    public List<LinkView> Links { get; init; } = [];
    public (int Errno, string Message)? Refusal { get; init; }

    public void Add(LinkAddRequest request) => Record(request);
    public void Set(LinkSetRequest request) => Record(request);
    public void Delete(LinkDelRequest request) => Record(request);

    public IReadOnlyList<LinkView> Show(LinkShowRequest request)
    {
        Record(request);
        return request.Name is null ? Links : Links.Where(l => l.Name == request.Name).ToList();
    }

    private void Record(ControlRequest request)
    {
        Requests.Add(request);
        if (Refusal is { } r) throw new LinkOperationException(r.Errno, r.Message);
    }
}
