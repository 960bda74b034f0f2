// The demo on real interfaces (root): the namespace lab, mvtapd on one lower and the kernel's
// macvtap on the other, and for vepa without and with a hairpin switch, bridge and private,
// who reaches whom with real pings, side by side; and A with the host through mvtap's host port
// (the column A-hostport, n/a on the kernel's side, which has no such thing).
using System.Text;

namespace Mvtap.Cli.Demo;

internal static class LabDemo
{
    private static readonly (string Title, string Mode, bool Hairpin)[] Scenarios =
    [
        ("vepa", "vepa", false),
        ("vepa, hairpin switch", "vepa", true),
        ("bridge", "bridge", false),
        ("private", "private", false),
        ("private, hairpin switch", "private", true),
    ];

    private static readonly (string Name, int From, int To)[] Pairs = [("A-B", 0, 1), ("A-C", 0, 2), ("B-C", 1, 2), ("A-ext", 0, -1)];

    /// <summary>One mode's reachability; <paramref name="HostPort"/>: A and the host through mvtap's host
    /// port, a column the kernel side has not.</summary>
    public sealed record Row(string Title, bool[] Mvtap, bool[] Kernel, bool HostPort);

    public static List<Row> Run(TextWriter log)
    {
        using var lab = new NamespaceLab();
        log.WriteLine($"lab: namespaces {lab.Prefix}-*; starting mvtapd ...");
        using var daemon = new LabDaemon(lab.Host);
        for (int i = 0; i < NamespaceLab.Guests.Length; i++)
        {
            var name = $"mv{NamespaceLab.Guests[i]}{lab.Prefix[3..]}";
            if (name.Length > 15) name = name[..15];
            daemon.MustMvtap("link", "add", "link", NamespaceLab.MvtapLower, "name", name, "type", "macvlan",
                "address", $"1a:46:0b:ca:bc:{0x7a + i:x2}", "spoofchk", "off", "netns", lab.MvtapGuest(NamespaceLab.Guests[i]));
            daemon.MustMvtap("link", "set", name, "up");
            lab.ConfigureMvtapGuest(i, name);
            Names[i] = name;
        }
        lab.CreateKernelGuests("vepa");
        var hostPort = $"mvh{lab.Prefix[3..]}";
        if (hostPort.Length > 15) hostPort = hostPort[..15];
        daemon.MustMvtap("link", "add", "link", NamespaceLab.MvtapLower, "name", hostPort, "type", "host", "address", "1a:46:0b:ca:bc:70", "up");
        lab.ConfigureHostPort(hostPort);

        var rows = new List<Row>();
        foreach (var (title, mode, hairpin) in Scenarios)
        {
            lab.SetHairpin(hairpin);
            foreach (var n in Names) daemon.MustMvtap("link", "set", n, "mode", mode);
            lab.SetKernelMode(mode);
            lab.Forget();
            var m = Reach(lab, mvtap: true);
            lab.Forget();
            var k = Reach(lab, mvtap: false);
            lab.Forget();
            bool h = Shell.Ping(lab.Host, NamespaceLab.MvtapAddress(0)) && Shell.Ping(lab.MvtapGuest(NamespaceLab.Guests[0]), NamespaceLab.HostPortAddress);
            rows.Add(new Row(title, m, k, h));
            log.WriteLine($"  measured: {title}");
        }
        return rows;
    }

    private static readonly string[] Names = new string[3];

    // Both directions must answer, as in the sim's table.
    private static bool[] Reach(NamespaceLab lab, bool mvtap)
    {
        string Ns(int i) => i < 0 ? lab.External : mvtap ? lab.MvtapGuest(NamespaceLab.Guests[i]) : lab.KernelGuest(NamespaceLab.Guests[i]);
        string Addr(int i) => i < 0 ? NamespaceLab.ExternalAddress : mvtap ? NamespaceLab.MvtapAddress(i) : NamespaceLab.KernelAddress(i);
        var tasks = Pairs.Select(p => Task.Run(() => Shell.Ping(Ns(p.From), Addr(p.To)) && Shell.Ping(Ns(p.To), Addr(p.From)))).ToArray();
        Task.WaitAll(tasks);
        return [.. tasks.Select(t => t.Result)];
    }

    public const string HostPortColumn = "A-hostport";

    public static string Format(List<Row> rows)
    {
        var sb = new StringBuilder();
        const int first = 26;
        string Cells(bool[] r) => string.Concat(r.Select(x => (x ? "yes" : "-").PadRight(7)));
        string Head() => string.Concat(Pairs.Select(p => p.Name.PadRight(7))) + HostPortColumn.PadRight(12);
        sb.Append("".PadRight(first)).Append("mvtap".PadRight(7 * Pairs.Length + 12)).Append("| kernel macvtap").AppendLine();
        sb.Append("mode".PadRight(first)).Append(Head()).Append("| ").Append(Head()).AppendLine();
        foreach (var r in rows)
            sb.Append(r.Title.PadRight(first)).Append(Cells(r.Mvtap)).Append((r.HostPort ? "yes" : "-").PadRight(12))
              .Append("| ").Append(Cells(r.Kernel)).Append("n/a".PadRight(12))
              .Append(r.Mvtap.SequenceEqual(r.Kernel) ? "" : "  <- differs").AppendLine();
        return sb.ToString();
    }
}
