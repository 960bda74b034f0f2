// `mvtap cni install [ DIR ]`: installs the CNI plugin, built next to mvtap as mvtap-cni (by the
// ./mvtap wrapper, ./install.sh or the container image), as an executable named `mvtap` in DIR
// (default /opt/cni/bin, where runtimes look). The copy is renamed into place, so a runtime that
// runs the plugin meanwhile sees the old file or the new one, never half of one.
namespace Mvtap.Cli;

internal static class CniCommand
{
    public const string DefaultDirectory = "/opt/cni/bin";
    public const string BuiltName = "mvtap-cni";
    public const string InstalledName = "mvtap";

    public const string Usage =
        "Usage: mvtap cni install [ DIR ]\n" +
        "       installs the CNI plugin as DIR/mvtap (default DIR: " + DefaultDirectory + ")\n";

    public static int Run(IReadOnlyList<string> words, TextWriter stdout, TextWriter stderr, string? pluginSource = null)
    {
        if (words.Count == 0 || Keyword.Matches(words[0], "help"))
        {
            (words.Count == 0 ? stderr : stdout).Write(Usage);
            return words.Count == 0 ? CommandLineException.ExitStatus : 0;
        }
        if (!Keyword.Matches(words[0], "install")) throw UsageErrors.UnknownCommand(words[0], "mvtap cni help");
        if (words.Count > 2) throw UsageErrors.DuplicateOrGarbage("DIR", words[2]);
        string dir = words.Count == 2 ? words[1] : DefaultDirectory;
        string source = pluginSource ?? Path.Combine(AppContext.BaseDirectory, BuiltName);
        if (!File.Exists(source))
        {
            stderr.WriteLine($"Error: the CNI plugin {BuiltName} is not next to mvtap ({source}): run ./mvtap cni install from a checkout " +
                             "(it builds the plugin once), or ./install.sh.");
            return LinkOperationException.ExitStatus;
        }
        string target = Path.Combine(dir, InstalledName);
        string temporary = Path.Combine(dir, $".{InstalledName}.{Environment.ProcessId}.tmp");
        try
        {
            Directory.CreateDirectory(dir);
            File.Copy(source, temporary, overwrite: true);
            if (OperatingSystem.IsLinux()) File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            File.Move(temporary, target, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(temporary); } catch (Exception d) when (d is IOException or UnauthorizedAccessException) { /* nothing left to undo */ }
            stderr.WriteLine($"Error: cannot install {target}: {e.Message}");
            return LinkOperationException.ExitStatus;
        }
        stdout.WriteLine($"installed the CNI plugin as {target}");
        return 0;
    }
}
