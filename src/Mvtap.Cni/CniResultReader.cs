// Reads a result JSON of spec 0.3.x to 1.1.0 (an IPAM plugin's answer, or prevResult) into a
// CniResult. Input from another program: every field is checked and a bad one is error 6 naming it.
using System.Net;
using System.Text.Json;

namespace Mvtap.Cni;

internal static class CniResultReader
{
    public static CniResult Parse(ReadOnlySpan<byte> json, string what)
    {
        try
        {
            using var doc = JsonDocument.Parse(json.ToArray());
            return Parse(doc.RootElement, what);
        }
        catch (JsonException e)
        {
            throw new CniError(CniError.DecodingFailure, $"cannot decode the {what}", e.Message);
        }
    }

    public static CniResult Parse(JsonElement root, string what)
    {
        if (root.ValueKind != JsonValueKind.Object) throw Bad(what, "is not a JSON object");
        var r = new NetConfParser.Reader(root);
        var result = new CniResult { Dns = r.Element("dns", JsonValueKind.Object) };
        foreach (var i in Items(root, "interfaces", what))
        {
            var ir = new NetConfParser.Reader(i);
            result.Interfaces.Add(new CniInterface(ir.String("name") ?? throw Bad(what, "has an interface without a name"),
                ir.String("mac"), ir.Int("mtu"), ir.String("sandbox"), ir.String("socketPath"), ir.String("pciID")));
        }
        foreach (var i in Items(root, "ips", what))
        {
            var ir = new NetConfParser.Reader(i);
            var address = CidrAddress.Parse(ir.String("address") ?? throw Bad(what, "has an ips entry without an address"), "ips[].address");
            result.Ips.Add(new CniIp(address, Ip(ir.String("gateway"), "ips[].gateway"), ir.Int("interface")));
        }
        foreach (var i in Items(root, "routes", what))
        {
            var ir = new NetConfParser.Reader(i);
            var dst = CidrAddress.Parse(ir.String("dst") ?? throw Bad(what, "has a route without dst"), "routes[].dst");
            result.Routes.Add(new CniRoute(dst, Ip(ir.String("gw"), "routes[].gw"), ir.Int("mtu"), ir.Int("advmss"),
                ir.Int("priority"), ir.Int("table"), ir.Int("scope")));
        }
        return result;
    }

    private static IEnumerable<JsonElement> Items(JsonElement root, string key, string what)
    {
        if (!root.TryGetProperty(key, out var list) || list.ValueKind == JsonValueKind.Null) return [];
        if (list.ValueKind != JsonValueKind.Array) throw Bad(what, $"has {key} that is not an array");
        var items = list.EnumerateArray().ToList();
        if (items.Any(x => x.ValueKind != JsonValueKind.Object)) throw Bad(what, $"has {key} entries that are not objects");
        return items;
    }

    private static IPAddress? Ip(string? text, string what)
    {
        if (string.IsNullOrEmpty(text)) return null;
        return IPAddress.TryParse(text, out var ip) ? ip
            : throw new CniError(CniError.DecodingFailure, $"invalid {what} \"{text}\"", $"{what} must be an IP address");
    }

    private static CniError Bad(string what, string why) => new(CniError.DecodingFailure, $"cannot decode the {what}", $"the {what} {why}");
}
