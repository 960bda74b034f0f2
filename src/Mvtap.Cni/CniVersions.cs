// The CNI spec versions this plugin speaks and which commands each allows: CHECK from 0.4.0,
// STATUS and GC from 1.1.0 (as libcni's skel refuses them in older configurations).
namespace Mvtap.Cni;

internal static class CniVersions
{
    public const string Current = "1.1.0";
    public static readonly string[] Supported = ["0.3.1", "0.4.0", "1.0.0", "1.1.0"];

    public static bool IsSupported(string version) => Array.IndexOf(Supported, version) >= 0;

    /// <summary>Semantic comparison of two "X.Y.Z" versions; false when either is malformed.</summary>
    public static bool AtLeast(string version, string minimum) =>
        Parse(version) is { } v && Parse(minimum) is { } m && v.CompareTo(m) >= 0;

    public static Version? Parse(string text) =>
        System.Version.TryParse(text, out var v) && v.Build >= 0 && v.Revision < 0 ? v : null;

    /// <summary>Refuses a configuration version this plugin does not speak, or one too old for the command.</summary>
    public static void Check(string configVersion, string command)
    {
        if (!IsSupported(configVersion))
            throw new CniError(CniError.IncompatibleVersion, "incompatible CNI versions",
                $"config is \"{configVersion}\", plugin supports [{string.Join(" ", Supported.Select(v => $"\"{v}\""))}]");
        string? minimum = command switch { "CHECK" => "0.4.0", "STATUS" or "GC" => "1.1.0", _ => null };
        if (minimum is not null && !AtLeast(configVersion, minimum))
            throw new CniError(CniError.IncompatibleVersion, $"config version does not allow {command}",
                $"{command} needs cniVersion {minimum} or later; the configuration says {configVersion}");
    }
}
