// `mvtapd --metrics ADDRESS:PORT`: the address the Prometheus endpoint listens on, read from the
// option's words. ADDRESS is an IPv4 address, an IPv6 address in brackets, or `localhost`
// (127.0.0.1); PORT 0 lets the kernel pick a free port (logged at start). Anything else is
// refused with a sentence saying what was expected.
using System.Globalization;
using System.Net;

namespace Mvtap.Daemon.Metrics;

public static class MetricsAddress
{
    public const string Example = "127.0.0.1:9417";

    /// <summary>The endpoint <paramref name="text"/> names, or null and the reason in <paramref name="error"/>.</summary>
    public static IPEndPoint? Parse(string text, out string? error)
    {
        error = null;
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
        {
            error = $"invalid --metrics \"{text}\": expected ADDRESS:PORT, e.g. {Example} or [::1]:9417";
            return null;
        }
        string host = text[..colon], portText = text[(colon + 1)..];
        if (!portText.All(char.IsAsciiDigit) || !int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port > IPEndPoint.MaxPort)
        {
            error = $"invalid --metrics \"{text}\": \"{portText}\" is not a port (0-65535)";
            return null;
        }
        IPAddress? address = null;
        if (host == "localhost") address = IPAddress.Loopback;
        else if (host.StartsWith('[') && host.EndsWith(']'))
        {
            if (IPAddress.TryParse(host[1..^1], out var v6) && v6.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6) address = v6;
        }
        else if (IsDottedQuad(host) && IPAddress.TryParse(host, out var v4)) address = v4;
        if (address is null)
        {
            error = $"invalid --metrics \"{text}\": \"{host}\" is not an IPv4 address, an IPv6 address in brackets or localhost";
            return null;
        }
        return new IPEndPoint(address, port);
    }

    /// <summary>How an endpoint is written in an URL: 127.0.0.1:9417, [::1]:9417.</summary>
    public static string Format(IPEndPoint endPoint) => endPoint.ToString();

    // IPAddress.TryParse also takes "1", "1.2" and hex forms; an operator means four decimal parts
    private static bool IsDottedQuad(string host)
    {
        var parts = host.Split('.');
        return parts.Length == 4 && parts.All(p => p.Length is > 0 and <= 3 && p.All(char.IsAsciiDigit));
    }
}
