// Reads a network configuration from the bytes on stdin. Undecodable JSON or a key of the wrong
// JSON type is error 6; a value the plugin cannot use is error 7 (invalid network config), naming
// the key; a key it deliberately does not support is error 2 with the key and value. It touches
// nothing on the system, so the Kubernetes examples are checked with it in a test.
using System.Text.Json;
using Mvtap.Core.Model;

namespace Mvtap.Cni;

internal static class NetConfParser
{
    /// <param name="macFromArgs">CNI_ARGS MAC=, which overrides `mac` (runtimeConfig.mac overrides both).</param>
    public static NetConf Parse(byte[] stdin, string? macFromArgs = null)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(stdin); }
        catch (JsonException e) { throw new CniError(CniError.DecodingFailure, "error unmarshalling network config", e.Message); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new CniError(CniError.DecodingFailure, "error unmarshalling network config", "the configuration is not a JSON object");
            var r = new Reader(root);
            string name = r.String("name") ?? "";
            if (name.Length == 0) throw new CniError(CniError.InvalidConfig, "missing network name");
            if (!CniEnvironment.ValidContainerId(name))
                throw new CniError(CniError.InvalidConfig, "invalid network name",
                    $"network name \"{name}\" must start with a letter or digit, followed by letters, digits, '_', '.' or '-'");
            if (r.Bool("linkInContainer") == true)
                throw new CniError(CniError.UnsupportedField, "unsupported field linkInContainer: true",
                    "mvtapd holds the lower device; it cannot be looked up in the container's namespace");

            var endpoint = r.String("endpoint") switch
            {
                null or LinkWords.Macvlan => EndpointType.Macvlan,
                "vhost-user" => EndpointType.VhostUser,
                "tap" => EndpointType.Tap,
                var other => throw Invalid("endpoint", other, "use macvlan, vhost-user or tap"),
            };
            string mode = r.String("mode") is { Length: > 0 } m ? m : NetConf.DefaultMode;
            if (!LinkWords.TryParseMode(mode, out _)) throw Invalid("mode", mode, "use bridge, vepa, private, passthru or source");
            int mtu = r.Int("mtu") ?? 0;
            if (mtu < 0) throw Invalid("mtu", mtu.ToString(), "must be 0 (the master's MTU) or more");
            var macaddrs = r.Strings("macaddrs") ?? [];
            if (macaddrs.Count > 0 && mode != "source") throw Invalid("macaddrs", string.Join(",", macaddrs), "only mode source takes a list of MACs");
            foreach (var a in macaddrs) CheckMac("macaddrs", a);

            var runtime = r.Object("runtimeConfig");
            string? mac = r.String("mac");
            if (!string.IsNullOrEmpty(macFromArgs)) mac = macFromArgs;
            if (runtime?.String("mac") is { Length: > 0 } rm) mac = rm;
            if (mac?.Length == 0) mac = null;
            if (mac is not null) CheckMac("mac", mac);

            string? guestMemory = r.String("guestMemory");
            if (guestMemory is not null && !LinkWords.TryParseGuestMemory(guestMemory, out _)) throw Invalid("guestMemory", guestMemory, "use sealed or any");
            if (guestMemory is not null && endpoint != EndpointType.VhostUser)
                throw Invalid("guestMemory", guestMemory, "only a vhost-user endpoint maps guest memory");
            string? owner = r.String("owner"), group = r.String("group");
            if ((owner ?? group) is { } who && endpoint == EndpointType.Macvlan)
                throw Invalid(owner is null ? "group" : "owner", who, "a macvlan endpoint has no socket or TAP to own");

            string runDir = r.String("runDir") ?? NetConf.DefaultRunDir;
            if (!Path.IsPathRooted(runDir)) throw Invalid("runDir", runDir, "must be an absolute path");
            string socketDir = r.String("socketDir") ?? Path.Combine(runDir, "vhost-user");
            if (!Path.IsPathRooted(socketDir)) throw Invalid("socketDir", socketDir, "must be an absolute path");
            if (r.String("socketDir") is not null && endpoint != EndpointType.VhostUser)
                throw Invalid("socketDir", socketDir, "only a vhost-user endpoint has a socket");

            var ipam = r.Object("ipam");
            string? ipamType = ipam?.String("type") is { Length: > 0 } t ? t : null;
            if (ipamType is not null && (ipamType.Contains('/') || ipamType is "." or ".."))
                throw Invalid("ipam.type", ipamType, "must be a plugin name, not a path");

            return new NetConf
            {
                CniVersion = r.String("cniVersion") is { Length: > 0 } v ? v : "0.1.0",
                Name = name,
                Type = r.String("type") ?? "",
                Master = r.String("master") is { Length: > 0 } master ? master : null,
                Mode = mode,
                Mtu = mtu,
                Mac = mac,
                BcQueueLen = r.UInt("bcqueuelen"),
                Macaddrs = macaddrs,
                SpoofCheck = r.Bool("spoofchk") ?? true,
                GuestMemory = guestMemory,
                RunDir = runDir,
                Endpoint = endpoint,
                SocketDir = socketDir,
                Owner = owner,
                Group = group,
                IpamType = ipamType,
                DeviceInfoFile = runtime?.String("CNIDeviceInfoFile") is { Length: > 0 } f ? f : null,
                Dns = r.Element("dns", JsonValueKind.Object),
                PrevResult = r.Element("prevResult", JsonValueKind.Object),
                ValidAttachments = ValidAttachments(root),
                Raw = stdin,
            };
        }
    }

    private static List<(string, string)>? ValidAttachments(JsonElement root)
    {
        if (!root.TryGetProperty("cni.dev/valid-attachments", out var list) || list.ValueKind == JsonValueKind.Null) return null;
        if (list.ValueKind != JsonValueKind.Array) throw WrongType("cni.dev/valid-attachments", "an array");
        var result = new List<(string, string)>();
        foreach (var item in list.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object) throw WrongType("cni.dev/valid-attachments[]", "an object");
            var r = new Reader(item);
            result.Add((r.String("containerID") ?? "", r.String("ifname") ?? ""));
        }
        return result;
    }

    private static void CheckMac(string key, string mac)
    {
        if (!Mvtap.Core.Frames.MacAddress.TryParse(mac, out _)) throw Invalid(key, mac, "not a MAC address (like 1a:46:0b:ca:bc:7b)");
    }

    private static CniError Invalid(string key, string value, string why) =>
        new(CniError.InvalidConfig, $"invalid {key} \"{value}\"", $"{key}: {why}");

    internal static CniError WrongType(string key, string expected) =>
        new(CniError.DecodingFailure, "error unmarshalling network config", $"{key} must be {expected}");

    /// <summary>Typed access to one JSON object's keys; absent or null keys read as null.</summary>
    internal readonly struct Reader(JsonElement obj)
    {
        public JsonElement? Element(string key, JsonValueKind kind)
        {
            if (!obj.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
            if (v.ValueKind != kind) throw WrongType(key, kind == JsonValueKind.Object ? "an object" : kind.ToString().ToLowerInvariant());
            return v.Clone();
        }

        public string? String(string key) => Element(key, JsonValueKind.String)?.GetString();

        public bool? Bool(string key)
        {
            if (!obj.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
            return v.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw WrongType(key, "true or false"),
            };
        }

        public int? Int(string key) =>
            Element(key, JsonValueKind.Number) is { } v ? (v.TryGetInt32(out int i) ? i : throw WrongType(key, "an integer")) : null;

        public uint? UInt(string key) =>
            Element(key, JsonValueKind.Number) is { } v ? (v.TryGetUInt32(out uint u) ? u : throw WrongType(key, "an integer from 0 to 4294967295")) : null;

        public Reader? Object(string key) => Element(key, JsonValueKind.Object) is { } v ? new Reader(v) : null;

        public List<string>? Strings(string key)
        {
            if (Element(key, JsonValueKind.Array) is not { } v) return null;
            var list = new List<string>();
            foreach (var item in v.EnumerateArray())
                list.Add(item.ValueKind == JsonValueKind.String ? item.GetString()! : throw WrongType(key + "[]", "a string"));
            return list;
        }
    }
}
