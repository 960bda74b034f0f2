// Writes JSON in the shape of a given spec version: ADD results (0.3.1/0.4.0 with each IP's
// "version"; 1.0.0 without it; 1.1.0 with interfaces' mtu, socketPath, pciID and routes' mtu,
// advmss, priority, table, scope), VERSION answers and error objects.
using System.Text.Json;

namespace Mvtap.Cni;

internal static class CniResultWriter
{
    private static readonly JsonWriterOptions Indented = new() { Indented = true };

    public static byte[] Result(CniResult result, string version)
    {
        bool v11 = CniVersions.AtLeast(version, "1.1.0");
        bool hasIpVersion = !CniVersions.AtLeast(version, "1.0.0");
        return Write(w =>
        {
            w.WriteString("cniVersion", version);
            if (result.Interfaces.Count > 0)
            {
                w.WriteStartArray("interfaces");
                foreach (var i in result.Interfaces)
                {
                    w.WriteStartObject();
                    w.WriteString("name", i.Name);
                    if (i.Mac is not null) w.WriteString("mac", i.Mac);
                    if (v11 && i.Mtu is int mtu) w.WriteNumber("mtu", mtu);
                    if (i.Sandbox is not null) w.WriteString("sandbox", i.Sandbox);
                    if (v11 && i.SocketPath is not null) w.WriteString("socketPath", i.SocketPath);
                    if (v11 && i.PciId is not null) w.WriteString("pciID", i.PciId);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            if (result.Ips.Count > 0)
            {
                w.WriteStartArray("ips");
                foreach (var ip in result.Ips)
                {
                    w.WriteStartObject();
                    if (hasIpVersion) w.WriteString("version", ip.IsV4 ? "4" : "6");
                    if (ip.Interface is int index) w.WriteNumber("interface", index);
                    w.WriteString("address", ip.Address.ToString());
                    if (ip.Gateway is not null) w.WriteString("gateway", ip.Gateway.ToString());
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            if (result.Routes.Count > 0)
            {
                w.WriteStartArray("routes");
                foreach (var r in result.Routes)
                {
                    w.WriteStartObject();
                    w.WriteString("dst", r.Dst.ToString());
                    if (r.Gw is not null) w.WriteString("gw", r.Gw.ToString());
                    if (v11)
                    {
                        if (r.Mtu is int mtu) w.WriteNumber("mtu", mtu);
                        if (r.AdvMss is int mss) w.WriteNumber("advmss", mss);
                        if (r.Priority is int p) w.WriteNumber("priority", p);
                        if (r.Table is int t) w.WriteNumber("table", t);
                        if (r.Scope is int s) w.WriteNumber("scope", s);
                    }
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            if (result.Dns is { } dns && dns.EnumerateObject().Any())
            {
                w.WritePropertyName("dns");
                dns.WriteTo(w);
            }
        });
    }

    public static byte[] Version(string version) => Write(w =>
    {
        w.WriteString("cniVersion", version);
        w.WriteStartArray("supportedVersions");
        foreach (var v in CniVersions.Supported) w.WriteStringValue(v);
        w.WriteEndArray();
    });

    public static byte[] Error(CniError e, string version) => Write(w =>
    {
        w.WriteString("cniVersion", version);
        w.WriteNumber("code", e.Code);
        w.WriteString("msg", e.Message);
        if (e.Details.Length > 0) w.WriteString("details", e.Details);
    });

    private static byte[] Write(Action<Utf8JsonWriter> body)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, Indented))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        ms.WriteByte((byte)'\n');
        return ms.ToArray();
    }
}
