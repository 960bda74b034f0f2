// The ADD result (SPEC.md section 5, "ADD Success") in one version-neutral shape: interfaces,
// IPs, routes and DNS. Read from an IPAM plugin's answer or a prevResult of any version this
// plugin speaks (CniResultReader) and written in the shape of the configuration's version
// (CniResultWriter).
using System.Net;
using System.Text.Json;

namespace Mvtap.Cni;

internal sealed record CniInterface(string Name, string? Mac = null, int? Mtu = null, string? Sandbox = null,
    string? SocketPath = null, string? PciId = null);

/// <summary>An address in CIDR notation (host bits kept, as "10.1.0.5/24").</summary>
internal readonly record struct CidrAddress(IPAddress Address, int PrefixLength)
{
    public override string ToString() => $"{Address}/{PrefixLength}";

    public static CidrAddress Parse(string text, string what)
    {
        int slash = text.IndexOf('/');
        if (slash > 0 && IPAddress.TryParse(text.AsSpan(0, slash), out var ip)
            && int.TryParse(text.AsSpan(slash + 1), System.Globalization.NumberStyles.None, null, out int prefix)
            && prefix <= (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128))
            return new CidrAddress(ip, prefix);
        throw new CniError(CniError.DecodingFailure, $"invalid {what} \"{text}\"", $"{what} must be an IP address in CIDR notation");
    }
}

internal sealed record CniIp(CidrAddress Address, IPAddress? Gateway = null, int? Interface = null)
{
    public bool IsV4 => Address.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork;
}

internal sealed record CniRoute(CidrAddress Dst, IPAddress? Gw = null, int? Mtu = null, int? AdvMss = null,
    int? Priority = null, int? Table = null, int? Scope = null);

internal sealed record CniResult
{
    public List<CniInterface> Interfaces { get; init; } = [];
    public List<CniIp> Ips { get; init; } = [];
    public List<CniRoute> Routes { get; init; } = [];
    /// <summary>The dns object as given (nameservers, domain, search, options).</summary>
    public JsonElement? Dns { get; init; }
}
