// The `mvtap` command line: global options, then the object (link, qemu, libvirt, run, cni, demo,
// monitor, capture, doctor, help),
// dispatched as ip does. Exit status: 0 done, 2 bad command line, 1 refused or failed operation.
using Mvtap.Control;

namespace Mvtap.Cli;

public static class MvtapCli
{
    public const string Version = "0.1.0";

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) =>
        Run(args, stdout, stderr, (o, dir) => CreateBackend(o, dir, stderr), Environment.GetEnvironmentVariable);

    /// <summary>Testable entry: the backend factory gets the options and the resolved run directory.</summary>
    internal static int Run(string[] args, TextWriter stdout, TextWriter stderr,
        Func<GlobalOptions, string, ILinkBackend> backendFactory, Func<string, string?> getEnvironment)
    {
        try
        {
            var (options, next) = GlobalOptionParser.Parse(args);
            if (options.Version) { stdout.WriteLine($"mvtap utility, {Version}"); return 0; }
            if (options.Help) { stdout.Write(UsageText.Main); return 0; }
            if (next >= args.Length)
            {
                stderr.Write(UsageText.Main);
                return CommandLineException.ExitStatus;
            }

            string obj = args[next];
            var rest = args.Skip(next + 1).ToList();
            string runDir = ControlPaths.ResolveRunDir(options.RunDir, getEnvironment);

            if (Keyword.Matches(obj, "link")) return RunLink(options, runDir, rest, stdout, stderr, backendFactory);
            if (Keyword.Matches(obj, "qemu"))
            {
                var request = QemuCommand.Parse(rest);
                if (request.Help) { stdout.Write(QemuCommand.Usage); return 0; }
                return QemuCommand.Run(request, backendFactory(options, runDir), runDir, stdout, stderr);
            }
            if (Keyword.Matches(obj, "run")) return RunCommand.Run(rest, runDir, stderr);
            if (Keyword.Matches(obj, "cni")) return CniCommand.Run(rest, stdout, stderr);
            if (Keyword.Matches(obj, "libvirt"))
            {
                var request = LibvirtCommand.Parse(rest);
                if (request.Help) { stdout.Write(LibvirtCommand.Usage); return 0; }
                return LibvirtCommand.Run(request, backendFactory(options, runDir), runDir, stdout, stderr);
            }
            if (Keyword.Matches(obj, "demo")) return DemoCommand.Run([.. rest]);
            if (Keyword.Matches(obj, "monitor"))
            {
                if (!MonitorCommand.Parse(rest)) { stdout.Write(MonitorCommand.Usage); return 0; }
                return MonitorCommand.Run(new ControlClient(ControlPaths.SocketPath(runDir)), options.Json, stdout);
            }
            if (Keyword.Matches(obj, "capture"))
            {
                var settings = CaptureCommand.Parse(rest);
                if (settings is null) { stdout.Write(CaptureCommand.Usage); return 0; }
                return CaptureCommand.Run(settings, runDir, stderr);
            }
            if (obj == "doctor")
            {
                var settings = Doctor.DoctorCommand.Parse(rest, runDir);
                if (settings is null) { stdout.Write(Doctor.DoctorCommand.Usage); return 0; }
                return Doctor.DoctorCommand.Run(settings, options.Json, options.Pretty, stdout);
            }
            if (Keyword.Matches(obj, "help")) { stdout.Write(UsageText.Main); return 0; }
            throw new CommandLineException($"Object \"{obj}\" is unknown, try \"mvtap help\".");
        }
        catch (CommandLineException e)
        {
            stderr.WriteLine(e.Message);
            return CommandLineException.ExitStatus;
        }
        catch (LinkOperationException e)
        {
            stderr.WriteLine(RefusalMessage.Format(e.Errno, e.Message));
            return LinkOperationException.ExitStatus;
        }
        catch (ControlProtocolException e)
        {
            stderr.WriteLine(e.Message);
            return LinkOperationException.ExitStatus;
        }
    }

    private static int RunLink(GlobalOptions options, string runDir, List<string> words, TextWriter stdout, TextWriter stderr,
        Func<GlobalOptions, string, ILinkBackend> backendFactory)
    {
        var command = LinkCommandParser.Parse(words);
        if (command is LinkHelpCommand) { stdout.Write(UsageText.Link); return 0; }

        var backend = backendFactory(options, runDir);
        switch (command)
        {
            case LinkAddCommand add: backend.Add(add.Request); return 0;
            case LinkSetCommand set: backend.Set(set.Request); return 0;
            case LinkDelCommand del: backend.Delete(del.Request); return 0;
            case LinkShowCommand show:
                var views = backend.Show(new LinkShowRequest { Name = show.Name })
                    .Where(v => show.Name is null || v.Name == show.Name)
                    .Where(v => !show.UpOnly || v.AdminUp)
                    .Where(v => show.Type is null || v.Type == show.Type)
                    .OrderBy(v => v.Index)
                    .ToList();
                if (show.Name is not null && views.Count == 0 && show.Type is null && !show.UpOnly)
                {
                    stderr.WriteLine($"Device \"{show.Name}\" does not exist.");
                    return LinkOperationException.ExitStatus;
                }
                stdout.Write(options.Json
                    ? LinkJsonPrinter.Format(views, options.Details, options.Statistics, options.Pretty)
                    : LinkTextPrinter.Format(views, options.Details, options.Statistics));
                return 0;
            default:
                throw new InvalidOperationException($"unhandled link command {command}");
        }
    }

    private static ILinkBackend CreateBackend(GlobalOptions options, string runDir, TextWriter stderr)
    {
        if (options.Kernel) return new KernelLinkBackend(stderr);
        return new DaemonLinkBackend(new ControlClient(ControlPaths.SocketPath(runDir)));
    }
}
