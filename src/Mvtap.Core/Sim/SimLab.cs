// The seed's picture on the sim: three endpoints A, B, C in one mode on one lower, an
// external host behind the switch, the lower's own host stack and the lower's host port (type
// host, which the kernel has not), and who reaches whom.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;

namespace Mvtap.Core.Sim;

public sealed record LabScenario(string Title, EndpointMode Mode, bool Hairpin);

public sealed record LabResult(LabScenario Scenario, IReadOnlyList<(string Pair, bool Reaches)> Pairs);

public static class SimLab
{
    public static readonly LabScenario[] Scenarios =
    [
        new("vepa", EndpointMode.Vepa, false),
        new("vepa, hairpin switch", EndpointMode.Vepa, true),
        new("bridge", EndpointMode.Bridge, false),
        new("private", EndpointMode.Private, false),
        new("private, hairpin switch", EndpointMode.Private, true),
    ];

    public static LabResult Run(LabScenario scenario)
    {
        var net = new SimNetwork(scenario.Hairpin);
        var ext = net.AddExternalHost("ext", MacAddress.Parse("02:00:00:00:ee:01"));
        var a = net.AddEndpoint(new EndpointSettings { Name = "A", Mode = scenario.Mode, Mac = MacAddress.Parse("1a:46:0b:ca:bc:7a") });
        var b = net.AddEndpoint(new EndpointSettings { Name = "B", Mode = scenario.Mode, Mac = MacAddress.Parse("1a:46:0b:ca:bc:7b") });
        var c = net.AddEndpoint(new EndpointSettings { Name = "C", Mode = scenario.Mode, Mac = MacAddress.Parse("1a:46:0b:ca:bc:7c") });
        var hostPort = net.AddEndpoint(new EndpointSettings { Name = "mvhost0", IsHostPort = true, Mac = MacAddress.Parse("1a:46:0b:ca:bc:70") });
        var pairs = new List<(string, bool)>
        {
            ("A-B", Both(net, a, b)),
            ("A-C", Both(net, a, c)),
            ("B-C", Both(net, b, c)),
            ("A-ext", Both(net, a, ext)),
            ("A-host", Both(net, a, net.LowerStack)),
            ("A-hostport", Both(net, a, hostPort)),
        };
        return new LabResult(scenario, pairs);
    }

    private static bool Both(SimNetwork net, SimStation x, SimStation y) => SimPing.Reaches(net, x, y) && SimPing.Reaches(net, y, x);

    /// <summary>The table `mvtap demo` prints.</summary>
    public static string Format(IEnumerable<LabResult> results)
    {
        var list = results.ToList();
        var sb = new System.Text.StringBuilder();
        const int first = 26;
        sb.Append("mode".PadRight(first));
        foreach (var (pair, _) in list[0].Pairs) sb.Append(pair.PadRight(Math.Max(8, pair.Length + 2)));
        sb.AppendLine();
        foreach (var r in list)
        {
            sb.Append(r.Scenario.Title.PadRight(first));
            foreach (var (pair, ok) in r.Pairs) sb.Append((ok ? "yes" : "-").PadRight(Math.Max(8, pair.Length + 2)));
            sb.AppendLine();
        }
        return sb.ToString();
    }
}
