// The plugin's entry: reads the CNI environment and the configuration on stdin, checks the
// version against the command (SPEC.md sections 2 and 5), runs the command, and prints the result
// or the error object on stdout. Exit status 0 on success, 1 on an error (as libcni's skel).
using System.Text;
using System.Text.Json;

namespace Mvtap.Cni;

internal static class CniPlugin
{
    public const string About = "CNI mvtap plugin (userspace macvlan/macvtap endpoints of mvtapd)";

    public static int Run(Func<string, string?> getenv, Stream stdin, Stream stdout, TextWriter stderr)
    {
        string version = CniVersions.Current;
        try
        {
            if (string.IsNullOrEmpty(getenv("CNI_COMMAND")))
            {
                // run by hand: say what this is, as reference plugins do
                stderr.WriteLine(About);
                stderr.WriteLine($"CNI protocol versions supported: {string.Join(", ", CniVersions.Supported)}");
                return 0;
            }
            var env = CniEnvironment.Read(getenv);
            byte[] input = ReadAll(stdin);
            if (env.Command == "VERSION")
            {
                stdout.Write(CniResultWriter.Version(RequestedVersion(input) ?? CniVersions.Current));
                return 0;
            }
            var conf = NetConfParser.Parse(input, env.Command is "ADD" or "CHECK" or "DEL" ? env.MacArgument() : null);
            if (CniVersions.IsSupported(conf.CniVersion)) version = conf.CniVersion;
            CniVersions.Check(conf.CniVersion, env.Command);
            switch (env.Command)
            {
                case "ADD": stdout.Write(AddCommand.Run(env, conf)); break;
                case "DEL": DelCommand.Run(env, conf); break;
                case "CHECK": CheckCommand.Run(env, conf); break;
                case "STATUS": StatusCommand.Run(env, conf); break;
                case "GC": GcCommand.Run(env, conf); break;
            }
            return 0;
        }
        catch (CniError e)
        {
            stdout.Write(CniResultWriter.Error(e, version));
            return 1;
        }
        catch (Exception e)
        {
            // a bug or an unexpected system error: still an error object, never a stack trace on stdout
            stderr.WriteLine(e.ToString());
            stdout.Write(CniResultWriter.Error(new CniError(CniError.Internal, e.Message), version));
            return 1;
        }
    }

    private static byte[] ReadAll(Stream stdin)
    {
        try
        {
            using var ms = new MemoryStream();
            stdin.CopyTo(ms);
            return ms.ToArray();
        }
        catch (IOException e)
        {
            throw new CniError(CniError.IoFailure, "error reading from stdin", e.Message);
        }
    }

    // VERSION echoes the cniVersion it was asked with; its stdin may be empty or anything.
    private static string? RequestedVersion(byte[] input)
    {
        try
        {
            using var doc = JsonDocument.Parse(input);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("cniVersion", out var v)
                   && v.ValueKind == JsonValueKind.String && v.GetString() is { Length: > 0 } s ? s : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
