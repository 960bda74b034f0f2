// The result schemas of the CNI spec, written from SPEC.md of each version (section 5 in 1.x,
// "Result" in 0.3.1/0.4.0): what keys a result may have, of which JSON types, and what their
// strings must look like. Validate returns every violation found, so a test shows them all.
using System.Net;
using System.Text.Json;

namespace Mvtap.Cni.Tests;

internal static class CniSchema
{
    public static List<string> AddResult(JsonElement r, string version)
    {
        var problems = new List<string>();
        bool v11 = version == "1.1.0", pre1 = version is "0.3.1" or "0.4.0";
        Keys(r, "result", problems, "cniVersion", "interfaces", "ips", "routes", "dns");
        if (Str(r, "cniVersion", "result", problems, required: true) is { } v && v != version)
            problems.Add($"result cniVersion {v} is not the configuration's {version}");

        int interfaces = 0;
        foreach (var i in Array(r, "interfaces", "result", problems))
        {
            interfaces++;
            string[] keys = v11 ? ["name", "mac", "mtu", "sandbox", "socketPath", "pciID"] : ["name", "mac", "sandbox"];
            Keys(i, "interfaces[]", problems, keys);
            if (Str(i, "name", "interfaces[]", problems, required: true) is "") problems.Add("interfaces[].name is empty");
            if (Str(i, "mac", "interfaces[]", problems) is { } mac && !IsMac(mac)) problems.Add($"interfaces[].mac {mac} is not a MAC address");
            Str(i, "sandbox", "interfaces[]", problems);
            if (v11)
            {
                UInt(i, "mtu", "interfaces[]", problems);
                if (Str(i, "socketPath", "interfaces[]", problems) is { } sp && !sp.StartsWith('/')) problems.Add($"interfaces[].socketPath {sp} is not absolute");
                Str(i, "pciID", "interfaces[]", problems);
            }
        }
        foreach (var ip in Array(r, "ips", "result", problems))
        {
            Keys(ip, "ips[]", problems, pre1 ? ["version", "address", "gateway", "interface"] : ["address", "gateway", "interface"]);
            var address = Str(ip, "address", "ips[]", problems, required: true);
            if (address is not null && !IsCidr(address)) problems.Add($"ips[].address {address} is not CIDR");
            if (Str(ip, "gateway", "ips[]", problems) is { } gw && !IPAddress.TryParse(gw, out _)) problems.Add($"ips[].gateway {gw} is not an IP address");
            if (UInt(ip, "interface", "ips[]", problems) is { } index && index >= interfaces)
                problems.Add($"ips[].interface {index} does not index interfaces (of {interfaces})");
            if (pre1)
            {
                var family = Str(ip, "version", "ips[]", problems, required: true);
                if (family is not null && address is not null && IsCidr(address)
                    && family != (address.Contains(':') ? "6" : "4")) problems.Add($"ips[].version {family} does not match {address}");
            }
        }
        foreach (var route in Array(r, "routes", "result", problems))
        {
            Keys(route, "routes[]", problems, v11 ? ["dst", "gw", "mtu", "advmss", "priority", "table", "scope"] : ["dst", "gw"]);
            if (Str(route, "dst", "routes[]", problems, required: true) is { } dst && !IsCidr(dst)) problems.Add($"routes[].dst {dst} is not CIDR");
            if (Str(route, "gw", "routes[]", problems) is { } gw && !IPAddress.TryParse(gw, out _)) problems.Add($"routes[].gw {gw} is not an IP address");
            if (v11) foreach (var k in new[] { "mtu", "advmss", "priority", "table", "scope" }) UInt(route, k, "routes[]", problems);
        }
        if (r.TryGetProperty("dns", out var dns))
        {
            if (dns.ValueKind != JsonValueKind.Object) problems.Add("dns is not an object");
            else
            {
                Keys(dns, "dns", problems, "nameservers", "domain", "search", "options");
                foreach (var n in Array(dns, "nameservers", "dns", problems))
                    if (n.ValueKind != JsonValueKind.String || !IPAddress.TryParse(n.GetString(), out _)) problems.Add($"dns.nameservers entry {n} is not an IP address");
                Str(dns, "domain", "dns", problems);
                foreach (var k in new[] { "search", "options" })
                    foreach (var s in Array(dns, k, "dns", problems))
                        if (s.ValueKind != JsonValueKind.String) problems.Add($"dns.{k} entry {s} is not a string");
            }
        }
        return problems;
    }

    public static List<string> Error(JsonElement e)
    {
        var problems = new List<string>();
        Keys(e, "error", problems, "cniVersion", "code", "msg", "details");
        Str(e, "cniVersion", "error", problems);
        if (UInt(e, "code", "error", problems, required: true) is null) problems.Add("error has no code");
        if (Str(e, "msg", "error", problems, required: true) is "") problems.Add("error msg is empty");
        Str(e, "details", "error", problems);
        return problems;
    }

    public static List<string> Version(JsonElement v, string expected)
    {
        var problems = new List<string>();
        Keys(v, "VERSION answer", problems, "cniVersion", "supportedVersions");
        if (Str(v, "cniVersion", "VERSION answer", problems, required: true) is { } cv && cv != expected)
            problems.Add($"VERSION answered cniVersion {cv}, asked with {expected}");
        var list = Array(v, "supportedVersions", "VERSION answer", problems).ToList();
        if (list.Count == 0) problems.Add("supportedVersions is empty");
        foreach (var s in list)
            if (s.ValueKind != JsonValueKind.String || !System.Version.TryParse(s.GetString(), out _)) problems.Add($"supportedVersions entry {s} is not X.Y.Z");
        return problems;
    }

    private static void Keys(JsonElement o, string what, List<string> problems, params string[] allowed)
    {
        if (o.ValueKind != JsonValueKind.Object) { problems.Add($"{what} is not an object"); return; }
        foreach (var p in o.EnumerateObject())
            if (System.Array.IndexOf(allowed, p.Name) < 0) problems.Add($"{what} has key \"{p.Name}\", which this version does not define");
    }

    private static string? Str(JsonElement o, string key, string what, List<string> problems, bool required = false)
    {
        if (o.ValueKind != JsonValueKind.Object || !o.TryGetProperty(key, out var v))
        {
            if (required) problems.Add($"{what} lacks {key}");
            return null;
        }
        if (v.ValueKind == JsonValueKind.String) return v.GetString();
        problems.Add($"{what}.{key} is not a string");
        return null;
    }

    private static uint? UInt(JsonElement o, string key, string what, List<string> problems, bool required = false)
    {
        if (o.ValueKind != JsonValueKind.Object || !o.TryGetProperty(key, out var v))
        {
            if (required) problems.Add($"{what} lacks {key}");
            return null;
        }
        if (v.ValueKind == JsonValueKind.Number && v.TryGetUInt32(out var u)) return u;
        problems.Add($"{what}.{key} is not an unsigned integer");
        return null;
    }

    private static IEnumerable<JsonElement> Array(JsonElement o, string key, string what, List<string> problems)
    {
        if (o.ValueKind != JsonValueKind.Object || !o.TryGetProperty(key, out var v)) return [];
        if (v.ValueKind == JsonValueKind.Array) return v.EnumerateArray().ToList();
        problems.Add($"{what}.{key} is not an array");
        return [];
    }

    private static bool IsMac(string s) => Mvtap.Core.Frames.MacAddress.TryParse(s, out _);

    private static bool IsCidr(string s)
    {
        int slash = s.IndexOf('/');
        return slash > 0 && IPAddress.TryParse(s[..slash], out var ip) && int.TryParse(s[(slash + 1)..], out int p)
               && p >= 0 && p <= (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
    }
}
