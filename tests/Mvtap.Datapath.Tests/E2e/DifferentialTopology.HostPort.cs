// mvtap's side of a differential topology with a host port (issue 14) present and idle beside the
// case's endpoints: an interface in the lower's namespace that is up and addressed as a host's would
// be, but sends nothing. Everything not involving a host port follows the kernel's rules, so such a
// side must still deliver exactly what the kernel's macvlan delivers; that it really stayed idle
// is checked, not assumed (AssertHostPortIdle).
using Mvtap.Core.Frames;
using Mvtap.Core.Model;

namespace Mvtap.Datapath.Tests.E2e;

internal sealed partial class DifferentialTopology
{
    public const string IdleHostPortName = "mvhost0";
    /// <summary>No catalogue case (02:00:…) or generated scenario (02:… and 1a:00:…) uses it.</summary>
    public static readonly MacAddress IdleHostPortMac = MacAddress.Parse("1a:ee:ee:ee:ee:01");
    /// <summary>In the wire's subnet, as a host port's address would be (the ext end is 10.77.0.1).</summary>
    public const string IdleHostPortAddress = "10.77.0.254/24";

    /// <summary>mvtap only: the host port made by <see cref="AddIdleHostPort"/>, if any.</summary>
    public Endpoint? IdleHostPort { get; private set; }

    /// <summary>
    /// mvtap only: `mvtap link add link low0 name mvhost0 address 1a:ee:ee:ee:ee:01 type host`, up, with an
    /// IPv4 address. IPv6 stays off on it, as on every interface here (the lower's namespace's
    /// default.disable_ipv6, set before it is made): with IPv6 a host port sends DAD, MLD reports and router
    /// solicitations of its own for as long as it is up (the solicitations back off but never stop). Those
    /// are traffic, not idleness; the observers would skip them (not test frames), but they would count
    /// among the frames mvtap's datapath read, which is what settling waits for, at times no case
    /// controls. An IPv4 address makes the stack send nothing unasked (arp_notify is off, 224.0.0.1 is
    /// never reported) and the cases send no ARP or IP.
    /// </summary>
    public Endpoint AddIdleHostPort()
    {
        if (IsKernel) throw new InvalidOperationException("the kernel's macvlan has no host port");
        var settings = new EndpointSettings { Name = IdleHostPortName, IsHostPort = true, Mac = IdleHostPortMac };
        var host = _switch!.AddEndpoint(Datapath!, new HostPortSpec(settings, IdleHostPortName, Adopt: false));
        Datapath!.Port.SetUp(host, true);
        _topo.Host.Ip("addr", "add", IdleHostPortAddress, "dev", IdleHostPortName);
        IdleHostPort = host;
        return host;
    }

    /// <summary>Throws unless the host port (if there is one) has sent nothing since it was made: a side
    /// whose host port spoke is not the comparison the test claims.</summary>
    public void AssertHostPortIdle()
    {
        if (IdleHostPort is not { } host) return;
        long sent = host.Counters.TxPackets + host.Counters.TxDropped;
        if (sent != 0) throw new InvalidOperationException($"the idle host port {host.Name} sent {sent} frames of its own");
    }
}
