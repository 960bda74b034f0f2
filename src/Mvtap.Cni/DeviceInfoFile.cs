// The device-info file (k8snetworkplumbingwg device-info spec 1.1.0) for a vhost-user endpoint,
// written where the runtime's CNIDeviceInfoFile capability says, so Multus copies it into the
// pod's network-status annotation: type vhost-user, mode "client" (mvtapd made the socket and the
// application in the pod connects to it), and the socket's path.
using System.Text.Json;

namespace Mvtap.Cni;

internal static class DeviceInfoFile
{
    public const string SpecVersion = "1.1.0";

    public static void WriteVhostUser(string file, string socketPath)
    {
        var dir = Path.GetDirectoryName(file);
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
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
        try { File.Delete(file); }
        catch (DirectoryNotFoundException) { }
    }
}
