// A DHCP server for a test: Debian's dnsmasq in the foreground inside a namespace, bound to one
// interface (the host port, in the host-port tests) with a small address range, its leases in a
// file of the test's own directory and its log (every DHCP exchange, with the client's MAC) kept
// in memory. No DNS (port 0). Killed by its pid on Dispose, on every exit path.
using System.Diagnostics;
using System.Net;
using System.Text;

namespace Mvtap.TestSupport;

public sealed class DnsmasqServer : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();

    /// <summary>Starts dnsmasq in <paramref name="netns"/> serving <paramref name="first"/> to
    /// <paramref name="last"/> (a /24) on <paramref name="iface"/>; files go into <paramref name="dir"/>.</summary>
    public DnsmasqServer(string netns, string iface, string first, string last, string dir)
    {
        First = IPAddress.Parse(first);
        Last = IPAddress.Parse(last);
        LeaseFile = Path.Combine(dir, $"dnsmasq-{iface}.leases");
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // ip netns exec execs dnsmasq itself, so the pid is dnsmasq's
        foreach (var a in new[]
        {
            "netns", "exec", netns, "dnsmasq", "--no-daemon", "--port=0", "--no-resolv", "--no-hosts", "--bind-interfaces",
            $"--interface={iface}", "--except-interface=lo", $"--dhcp-range={first},{last},255.255.255.0,1h",
            $"--dhcp-leasefile={LeaseFile}", $"--pid-file={Path.Combine(dir, $"dnsmasq-{iface}.pid")}",
            "--log-facility=-", "--log-dhcp",
        }) psi.ArgumentList.Add(a);
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public IPAddress First { get; }
    public IPAddress Last { get; }
    public string LeaseFile { get; }
    /// <summary>What dnsmasq logged so far (DHCPDISCOVER/OFFER/REQUEST/ACK lines name the MAC).</summary>
    public string Log { get { lock (_log) return _log.ToString(); } }

    /// <summary>Whether an address lies in the range this server hands out.</summary>
    public bool InRange(IPAddress address)
    {
        uint a = ToNumber(address), first = ToNumber(First), last = ToNumber(Last);
        return a >= first && a <= last;
    }

    /// <summary>The address the lease file records for a MAC, or null ("expiry mac ip name id" lines).</summary>
    public string? LeasedTo(string mac)
    {
        if (!File.Exists(LeaseFile)) return null;
        foreach (var line in File.ReadAllLines(LeaseFile))
        {
            var f = line.Split(' ');
            if (f.Length >= 3 && string.Equals(f[1], mac, StringComparison.OrdinalIgnoreCase)) return f[2];
        }
        return null;
    }

    private static uint ToNumber(IPAddress a)
    {
        var b = a.GetAddressBytes();
        return (uint)(b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]);
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_log) _log.AppendLine(line);
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException) { }
        _process.Dispose();
    }
}
