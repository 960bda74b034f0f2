// Parses the leading options the way ip.c's main() does: each word starting with '-' until the
// object; "--opt" is the same as "-opt"; "--" ends the options; options are prefix-matched in
// ip's order (-stats/-statistics, -details, ..., -json, -pretty, ..., -help).
namespace Mvtap.Cli;

internal static class GlobalOptionParser
{
    /// <summary>Returns the options and the index of the first word after them.</summary>
    public static (GlobalOptions Options, int Next) Parse(IReadOnlyList<string> args)
    {
        var o = new GlobalOptions();
        int i = 0;
        for (; i < args.Count; i++)
        {
            string opt = args[i];
            if (opt == "--") { i++; break; }
            if (opt.Length == 0 || opt[0] != '-') break;
            if (opt.Length > 1 && opt[1] == '-') opt = opt[1..];

            string? inlineValue = null;
            int eq = opt.IndexOf('=');
            if (eq > 0) { inlineValue = opt[(eq + 1)..]; opt = opt[..eq]; }

            if (Keyword.Matches(opt, "-stats") || Keyword.Matches(opt, "-statistics")) o = o with { Statistics = o.Statistics + 1 };
            else if (Keyword.Matches(opt, "-details")) o = o with { Details = true };
            else if (Keyword.Matches(opt, "-Version")) o = o with { Version = true };
            else if (Keyword.Matches(opt, "-json")) o = o with { Json = true };
            else if (Keyword.Matches(opt, "-pretty")) o = o with { Pretty = true };
            else if (Keyword.Matches(opt, "-kernel")) o = o with { Kernel = true };
            else if (Keyword.Matches(opt, "-run-dir"))
            {
                string? dir = inlineValue;
                if (dir is null)
                {
                    if (i + 1 >= args.Count) throw new CommandLineException("Option \"-run-dir\" needs a directory.");
                    dir = args[++i];
                }
                if (dir.Length == 0) throw new CommandLineException("Option \"-run-dir\" needs a directory.");
                o = o with { RunDir = dir };
                continue;
            }
            else if (Keyword.Matches(opt, "-help")) o = o with { Help = true };
            else throw new CommandLineException($"Option \"{args[i]}\" is unknown, try \"mvtap -help\".");

            if (inlineValue is not null)
                throw new CommandLineException($"Option \"{args[i]}\" is unknown, try \"mvtap -help\".");
        }
        return (o, i);
    }
}
