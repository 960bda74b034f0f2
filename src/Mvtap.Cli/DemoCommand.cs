// `mvtap demo`: the main job on an embedded default (see README). Three endpoints A, B and C
// on one lower device, an external host behind the switch, and who reaches whom in each mode:
// the behaviour the seed describes. As root it builds a lab in network namespaces, runs
// mvtapd on it and pings for real, side by side with the kernel's macvtap on the same lab;
// without root it says so and shows the same on the built-in sim lower. Both add the column
// A-hostport (the host through mvtap's host port), which the kernel side has not (n/a).
using Mvtap.Cli.Demo;
using Mvtap.Core.Sim;

namespace Mvtap.Cli;

public static class DemoCommand
{
    public static int Run(string[] args)
    {
        bool sim = args is ["sim"];
        if (args.Length > 0 && !sim)
        {
            Console.Error.WriteLine($"Error: either \"sim\" or nothing, \"{args[0]}\" is a garbage.");
            return 2;
        }
        if (!sim && Shell.IsRoot) return RunLab();
        if (!sim) Console.WriteLine("mvtap demo: not root, so no namespace lab; showing the built-in sim lower instead.\n");
        return RunSim();
    }

    private static int RunLab()
    {
        Console.WriteLine("mvtap demo: three guests A, B, C on one lower device, an external host \"ext\" behind a");
        Console.WriteLine("Linux bridge as the external switch, all in network namespaces made for the demo;");
        Console.WriteLine("left mvtap (mvtapd, macvlan endpoints), right the kernel's macvtap on the same switch.");
        Console.WriteLine("Each cell: do the two ping each other (both directions)?\n");
        List<LabDemo.Row> rows;
        try
        {
            rows = LabDemo.Run(Console.Out);
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or FileNotFoundException or System.ComponentModel.Win32Exception)
        {
            Console.Error.WriteLine($"mvtap demo: the lab failed: {e.Message}");
            return 1;
        }
        Console.WriteLine();
        Console.Write(LabDemo.Format(rows));
        Console.WriteLine();
        Explain();
        Console.WriteLine("A-hostport: the host (mvtapd's namespace) through mvtap's host port; the kernel has none (n/a).");
        Console.WriteLine("The lab is removed.");
        // only the columns both sides have are compared
        return rows.All(r => r.Mvtap.SequenceEqual(r.Kernel)) ? 0 : 1;
    }

    private static int RunSim()
    {
        Console.WriteLine("mvtap demo: three endpoints A, B, C on one lower device (the built-in sim lower:");
        Console.WriteLine("an external switch with an external host \"ext\"; \"host\" is the lower's own stack).");
        Console.WriteLine("Each cell: do the two reach each other (ARP broadcast, then echo request and reply)?");
        Console.WriteLine();
        Console.Write(SimLab.Format(SimLab.Scenarios.Select(SimLab.Run)));
        Console.WriteLine();
        Explain();
        Console.WriteLine("No mode lets the lower's own host reach its endpoints without a hairpin switch;");
        Console.WriteLine("the host port (`mvtap link add link LOWER name mvhost0 type host`) reaches them in every mode.");
        return 0;
    }

    private static void Explain()
    {
        Console.WriteLine("vepa sends everything to the switch: endpoints meet only if it hairpins.");
        Console.WriteLine("bridge connects endpoints inside the host; private never lets them meet:");
        Console.WriteLine("even a hairpin switch returns a private endpoint's broadcasts only to itself.");
    }
}
