// Runs the IPAM plugin named in `ipam.type` as SPEC.md section 4 says and as the reference macvlan
// plugin does: found in CNI_PATH, given the same environment (CNI_COMMAND set to the delegated
// command) and the same configuration on stdin, its stderr passed through to ours. A plugin that
// fails hands its own error object up. VERSION tells whether it knows STATUS and GC (1.1.0):
// Debian's host-local 1.1.1 stops at 1.0.0 and refuses a 1.1.0 configuration.
using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Mvtap.Cni;

internal sealed class IpamDelegate(string type, CniEnvironment env)
{
    public string Type { get; } = type;

    public CniResult Add(byte[] config) => CniResultReader.Parse(Run("ADD", config), $"result of IPAM plugin {Type}");

    public void Del(byte[] config) => Run("DEL", config);
    public void Check(byte[] config) => Run("CHECK", config);
    public void Status(byte[] config) => Run("STATUS", config);
    public void Gc(byte[] config) => Run("GC", config);

    /// <summary>DEL of another attachment (GC releasing what an IPAM plugin without GC still holds).</summary>
    public void DelAttachment(byte[] config, string containerId, string ifName) =>
        Run("DEL", config, new() { ["CNI_CONTAINERID"] = containerId, ["CNI_IFNAME"] = ifName, ["CNI_NETNS"] = null });

    /// <summary>The spec versions the plugin lists in its VERSION answer.</summary>
    public IReadOnlyList<string> SupportedVersions(string configVersion)
    {
        var stdin = Encoding.UTF8.GetBytes($"{{\"cniVersion\":\"{configVersion}\"}}");
        var output = Run("VERSION", stdin);
        try
        {
            using var doc = JsonDocument.Parse(output);
            if (doc.RootElement.TryGetProperty("supportedVersions", out var list) && list.ValueKind == JsonValueKind.Array)
                return [.. list.EnumerateArray().Where(v => v.ValueKind == JsonValueKind.String).Select(v => v.GetString()!)];
        }
        catch (JsonException) { }
        throw new CniError(CniError.DecodingFailure, $"cannot decode the VERSION answer of IPAM plugin {Type}", Encoding.UTF8.GetString(output));
    }

    /// <summary>Whether STATUS and GC may be passed on: the plugin lists the configuration's version
    /// (it gets the same stdin), and that version has them (1.1.0 or later).</summary>
    public bool SpeaksStatusAndGc(string configVersion) =>
        CniVersions.AtLeast(configVersion, "1.1.0") && SupportedVersions(configVersion).Contains(configVersion);

    public string Find()
    {
        foreach (var dir in env.Path)
        {
            var candidate = System.IO.Path.Combine(dir, Type);
            if (File.Exists(candidate)) return candidate;
        }
        throw new CniError(CniError.InvalidConfig, $"failed to find plugin \"{Type}\" in path [{string.Join(" ", env.Path)}]");
    }

    private byte[] Run(string command, byte[] stdin, Dictionary<string, string?>? overrides = null)
    {
        var psi = new ProcessStartInfo(Find())
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = false, // the delegated plugin's stderr is ours
            UseShellExecute = false,
        };
        psi.Environment["CNI_COMMAND"] = command;
        foreach (var (k, v) in overrides ?? [])
            if (v is null) psi.Environment.Remove(k); else psi.Environment[k] = v;
        using var p = Process.Start(psi) ?? throw new CniError(CniError.Internal, $"cannot start IPAM plugin {Type}");
        var stdout = new MemoryStream();
        var reading = p.StandardOutput.BaseStream.CopyToAsync(stdout);
        try
        {
            p.StandardInput.BaseStream.Write(stdin);
            p.StandardInput.Close();
        }
        catch (IOException) { /* it exited without reading; its answer says why */ }
        reading.Wait();
        p.WaitForExit();
        var output = stdout.ToArray();
        if (p.ExitCode != 0) throw Failure(command, output, p.ExitCode);
        return output;
    }

    private CniError Failure(string command, byte[] output, int exitCode)
    {
        try
        {
            using var doc = JsonDocument.Parse(output);
            var r = new NetConfParser.Reader(doc.RootElement);
            if (doc.RootElement.TryGetProperty("code", out var code) && code.TryGetInt32(out int c))
                return new CniError(c, $"IPAM plugin {Type} ({command}): {r.String("msg") ?? "failed"}", r.String("details") ?? "");
        }
        catch (Exception e) when (e is JsonException or CniError or InvalidOperationException) { }
        return new CniError(CniError.Internal, $"IPAM plugin {Type} ({command}) exited with status {exitCode}",
            Encoding.UTF8.GetString(output).Trim());
    }
}
