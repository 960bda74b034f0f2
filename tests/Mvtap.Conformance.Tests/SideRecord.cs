// What one side (the kernel's macvlan or mvtap) did in one run of a scenario: the outcome of every
// command (accepted, or the error's text), of every frame's send, where every copy of every frame
// was seen (each endpoint's interface, the wire, the lower's stack), frames that arrived after their
// batch had settled, what was set aside as the kernel's imperfect multicast filter, notes (a change
// made inside a container that mvtap did not follow in time), frames its observation points had no
// room for and, for mvtap, its log.
namespace Mvtap.Conformance.Tests;

internal enum Flavor { Kernel, Mvtap }

internal sealed class SideRecord(Flavor flavor)
{
    public const string Wire = "wire";
    public const string LowerStack = "lower";

    public Flavor Flavor { get; } = flavor;
    public string Label => Flavor == Flavor.Kernel ? "kernel" : "mvtap";

    /// <summary>Per step index: null when accepted, else the error (frames steps: always null).</summary>
    public Dictionary<int, string?> StepOutcomes { get; } = [];
    /// <summary>Per frame number: null when sent, else why not.</summary>
    public Dictionary<int, string?> SendOutcomes { get; } = [];
    /// <summary>Per frame number, per observation point: the copies seen (the lower's stack: by tag only).</summary>
    public Dictionary<int, SortedDictionary<string, List<byte[]>>> Copies { get; } = [];
    /// <summary>Frames of which a copy arrived after their batch had settled.</summary>
    public SortedSet<int> Late { get; } = [];
    /// <summary>Copies set aside as the kernel's multicast hash filter letting an unjoined group through.</summary>
    public List<string> FilterLeaks { get; } = [];
    /// <summary>Per step index: waits that ran out (mvtap did not follow a change made inside a container).</summary>
    public Dictionary<int, string> Notes { get; } = [];
    public List<string> Log { get; } = [];
    /// <summary>Frames the observation points' rings dropped (the observation has a hole: not a difference of the side's).</summary>
    public long ObserverDrops { get; set; }
    /// <summary>mvtap: how long each change made inside a container took to be followed.</summary>
    public List<TimeSpan> FollowDelays { get; } = [];
    /// <summary>mvtap: each endpoint's multicast state at the end (groups, ALLMULTI, PROMISC), for the hints.</summary>
    public Dictionary<string, string> MulticastAtEnd { get; } = [];
    /// <summary>mvtap: its datapath's and core's drop and refusal counters at the end, for the report.</summary>
    public List<string> CountersAtEnd { get; } = [];

    public SortedDictionary<string, List<byte[]>> CopiesOf(int frame) =>
        Copies.TryGetValue(frame, out var c) ? c : new SortedDictionary<string, List<byte[]>>(StringComparer.Ordinal);

    public void Add(int frame, string point, byte[] copy)
    {
        if (!Copies.TryGetValue(frame, out var points)) Copies[frame] = points = new SortedDictionary<string, List<byte[]>>(StringComparer.Ordinal);
        if (!points.TryGetValue(point, out var list)) points[point] = list = [];
        list.Add(copy);
    }
}
