// `mvtap demo`: the main job on an embedded default (see README). It puts three endpoints
// A, B and C on one lower device, with an external host behind the switch and the lower's
// own host stack, and shows who reaches whom (ARP, then echo request and reply, both ways)
// in each mode: the behaviour the seed describes. It runs on the built-in `sim` lower, so it
// needs no root; the namespace lab with real pings comes with the daemon (issue 4).
using Mvtap.Core.Sim;

namespace Mvtap.Cli;

public static class DemoCommand
{
    public static int Run(string[] args)
    {
        if (args.Length > 0)
        {
            Console.Error.WriteLine($"Error: demo takes no arguments, \"{args[0]}\" is a garbage.");
            return 2;
        }
        Console.WriteLine("mvtap demo: three endpoints A, B, C on one lower device (the built-in sim lower:");
        Console.WriteLine("an external switch with an external host \"ext\"; \"host\" is the lower's own stack).");
        Console.WriteLine("Each cell: do the two reach each other (ARP broadcast, then echo request and reply)?");
        Console.WriteLine();
        Console.Write(SimLab.Format(SimLab.Scenarios.Select(SimLab.Run)));
        Console.WriteLine();
        Console.WriteLine("vepa sends everything to the switch: endpoints meet only if it hairpins.");
        Console.WriteLine("bridge connects endpoints inside the host; private never lets them meet:");
        Console.WriteLine("even a hairpin switch returns a private endpoint's broadcasts only to itself.");
        Console.WriteLine("No mode lets the lower's own host reach its endpoints without a hairpin switch.");
        return 0;
    }
}
