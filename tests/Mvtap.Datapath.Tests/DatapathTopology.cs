// Test topology for the datapath: a "host" namespace holding the lower device (one end of a veth
// pair) where mvtap's datapath runs, an "ext" namespace holding the other end as the external
// host (10.77.0.1/24), and one namespace per endpoint. Everything lives in throw-away namespaces
// with unique names, removed on dispose; the machine's own interfaces are never touched.
using System.Diagnostics;

namespace Mvtap.Datapath.Tests;

internal sealed class DatapathTopology : IDisposable
{
    public const string LowerName = "low0";
    public const string ExtName = "ext0";
    public const string ExtIp = "10.77.0.1";

    private readonly List<TestNamespace> _namespaces = [];

    /// <param name="hairpin">put the external end on a bridge in reflective-relay (hairpin) mode, the
    /// external switch of a VEPA setup: frames between endpoints then come back down the lower.</param>
    public DatapathTopology(bool hairpin = false)
    {
        try
        {
            Host = NewNamespace();
            Ext = NewNamespace();
            TestNet.Ip("-n", Host.Name, "link", "add", LowerName, "type", "veth", "peer", "name", ExtName, "netns", Ext.Name);
            Host.Ip("link", "set", LowerName, "up");
            string extIf = ExtName;
            if (hairpin)
            {
                Ext.Ip("link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0");
                Ext.Ip("link", "set", ExtName, "master", "br0");
                Ext.Ip("link", "set", ExtName, "type", "bridge_slave", "hairpin", "on");
                Ext.Ip("link", "set", "br0", "up");
                extIf = "br0";
            }
            Ext.Ip("addr", "add", ExtIp + "/24", "dev", extIf);
            Ext.Ip("link", "set", ExtName, "up");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public TestNamespace Host { get; } = null!;
    public TestNamespace Ext { get; } = null!;

    public TestNamespace NewNamespace()
    {
        var ns = new TestNamespace();
        _namespaces.Add(ns);
        return ns;
    }

    /// <summary>Gives <paramref name="ifName"/> in <paramref name="ns"/> the address 10.77.0.<paramref name="host"/>/24 and brings it up.</summary>
    public static void Address(TestNamespace ns, string ifName, int host)
    {
        ns.Ip("addr", "add", $"10.77.0.{host}/24", "dev", ifName);
        ns.Ip("link", "set", ifName, "up");
    }

    /// <summary>The kernel's own macvlan on the lower, moved into <paramref name="ns"/> and addressed: the reference for differential tests.</summary>
    public void AddKernelMacvlan(string name, string mode, TestNamespace ns, int host)
    {
        Host.Ip("link", "add", "link", LowerName, "name", name, "type", "macvlan", "mode", mode);
        Host.Ip("link", "set", name, "netns", ns.Name);
        Address(ns, name, host);
    }

    /// <summary>One `ping -c 1 -W 1` from <paramref name="ns"/>, repeated up to <paramref name="attempts"/> times
    /// (the first may spend its second on ARP); true when any got a reply. Every wait is bounded.</summary>
    public static bool Ping(string ns, string ip, int attempts = 2)
    {
        for (int i = 0; i < attempts; i++)
        {
            var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { "netns", "exec", ns, "ping", "-c", "1", "-W", "1", "-q", ip }) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            p.StandardOutput.ReadToEnd();
            p.StandardError.ReadToEnd();
            if (!p.WaitForExit(10_000)) { p.Kill(); continue; }
            if (p.ExitCode == 0) return true;
        }
        return false;
    }

    public void Dispose()
    {
        // Deleting a namespace destroys its interfaces, and with them the veth pairs they belong to.
        foreach (var ns in _namespaces) ns.Dispose();
        _namespaces.Clear();
    }
}
