// The device-info file (k8snetworkplumbingwg device-info spec 1.1.0) for a vhost-user endpoint,
// written where the runtime's CNIDeviceInfoFile capability says, so Multus copies it into the
// pod's network-status annotation: type vhost-user, mode "client" (mvtapd made the socket and the
// application in the pod connects to it), and the socket's path. Only in the spec's directory:
// written by rename (a symlink there is replaced, never followed) and removed on DEL.
using System.Text.Json;

namespace Mvtap.Cni;

internal static class DeviceInfoFile
{
    public const string SpecVersion = "1.1.0";

    /// <summary>Where the spec puts CNI device-info files (section 4.2), /var/run being /run.</summary>
    public static readonly string[] Directories = ["/var/run/k8s.cni.cncf.io/devinfo/cni", "/run/k8s.cni.cncf.io/devinfo/cni"];

    /// <summary>The path, when it is a file directly in the spec's directory; a configuration could
    /// carry any runtimeConfig, and the plugin writes and deletes as root.</summary>
    public static string? Checked(string file)
    {
        string full = Path.GetFullPath(file);
        return Array.IndexOf(Directories, Path.GetDirectoryName(full)) >= 0 && Path.GetFileName(full).Length > 0 ? full : null;
    }

    public static void WriteVhostUser(string file, string socketPath)
    {
        file = Checked(file) ?? throw new CniError(CniError.InvalidConfig, $"invalid runtimeConfig.CNIDeviceInfoFile \"{file}\"",
            $"a device-info file belongs in {Directories[0]} (device-info spec 1.1.0, section 4.2)");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("type", "vhost-user");
            w.WriteString("version", SpecVersion);
            w.WriteStartObject("vhost-user");
            w.WriteString("mode", "client");
            w.WriteString("path", socketPath);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        var tmp = file + ".tmp";
        File.WriteAllBytes(tmp, ms.ToArray());
        File.Move(tmp, file, overwrite: true);
    }

    public static void Remove(string file)
    {
        if (Checked(file) is not { } path) return; // never written: nothing of ours to remove
        try { File.Delete(path); }
        catch (DirectoryNotFoundException) { }
    }
}
