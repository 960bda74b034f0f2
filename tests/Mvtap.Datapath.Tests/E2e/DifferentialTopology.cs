// One side of a frame-level differential test (design principle 1, spec 7 and Appendix A): a
// veth lower "low0" in a host namespace whose peer "ext0" in an ext namespace is the wire
// (optionally a port of a Linux bridge in hairpin mode: a reflective relay that sends every frame
// back down), and endpoints named by their role (P, V, V2, B, B2, S, S2, T) whose interfaces live
// in an "eps" namespace, or endpoints made and moved one by one, each into a namespace of its own
// (DifferentialTopology.Endpoints.cs). Built either with the kernel's macvlan or with mvtap's
// datapath (veth-attached endpoints, spoofchk as asked), with the same MAC addresses, so the same
// crafted frames can be injected into both and what each observation point saw compared byte for byte.
//
// Observation points: every endpoint's interface and the wire (ETH_P_ALL taps, own transmissions
// ignored), and "the lower's own stack". That last one is not directly comparable. With the
// kernel's macvlan it is a protocol socket on low0 counting frames reported with low0's ifindex
// (RX_HANDLER_PASS; consumed frames never get there, re-injected ones carry the endpoint's
// ifindex). mvtap's lower is an AF_PACKET tap, so the kernel stack of low0 gets every wire frame
// whatever mvtap decides; what is comparable is mvtap's decision, which its datapath counts as
// LowerStackPassed. So the kernel's count of frames that reached the stack is compared with the
// number of PASS decisions mvtap took, and frame by frame with the frames mvtap passed (a test-only
// hook on its datapath, LowerDatapath.PassedToLowerStack).
using System.Collections.Concurrent;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Datapath;
using Mvtap.Datapath.Tests;
using Mvtap.Linux;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

namespace Mvtap.Datapath.Tests.E2e;

internal sealed partial class DifferentialTopology : IDisposable
{
    public static readonly MacAddress LowerMac = E2eFrames.Mac(0, 1);
    public static readonly MacAddress ExtMac = E2eFrames.Mac(0, 2);
    /// <summary>An external host's MAC (not ext0's: the wire injects as anyone).</summary>
    public static readonly MacAddress External = E2eFrames.Mac(0, 0x0e);
    /// <summary>The MAC that S's source list holds (spec 7: X).</summary>
    public static readonly MacAddress X = E2eFrames.Mac(2, 1);
    public static readonly MacAddress Unknown = E2eFrames.Mac(3, 1);

    /// <summary>Fixed MACs of the roles; T (passthru) takes the lower's, as the kernel gives it.</summary>
    public static readonly IReadOnlyDictionary<string, MacAddress> RoleMacs = new Dictionary<string, MacAddress>
    {
        ["P"] = E2eFrames.Mac(1, 1), ["V"] = E2eFrames.Mac(1, 2), ["V2"] = E2eFrames.Mac(1, 3),
        ["B"] = E2eFrames.Mac(1, 4), ["B2"] = E2eFrames.Mac(1, 5), ["S"] = E2eFrames.Mac(1, 6), ["S2"] = E2eFrames.Mac(1, 7),
    };

    /// <summary>How long nothing new must arrive before an observation is over. Only bounds how
    /// long the test waits for stragglers (the kernel's broadcast work queue, mvtap's thread);
    /// no assertion depends on it.</summary>
    public static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    private readonly DatapathTopology _topo;
    private readonly List<IDisposable> _owned = [];
    private readonly Dictionary<string, Member> _members = [];
    private readonly List<string> _labels = [];
    private readonly FrameObserver _wire;
    private readonly List<FrameObserver> _lowerStack = [];
    // mvtap only: the test frames its core passed to the lower's stack, from the datapath thread
    private readonly ConcurrentQueue<byte[]> _passed = new();
    private readonly List<byte[]> _passedFrames = [];
    private readonly PacketSocket _wireInjector;
    private PacketSocket? _lowerInjector;
    private DatapathSwitch? _switch;

    /// <param name="relay">the wire is a port of a Linux bridge with hairpin on: every frame the lower sends comes back.</param>
    /// <param name="log">mvtap only: where the switch's log lines go (default stderr).</param>
    public DifferentialTopology(bool kernel, bool spoofCheck = false, bool relay = false, Action<string>? log = null)
    {
        IsKernel = kernel;
        SpoofCheck = spoofCheck;
        IsRelay = relay;
        _topo = new DatapathTopology(hairpin: relay);
        try
        {
            // IPv6 off everywhere so no ND/MLD traffic crosses the port: mvtap's PASS count is a plain counter.
            foreach (var ns in new[] { _topo.Host, _topo.Ext }) NoIpv6(ns);
            Eps = _topo.NewNamespace();
            NoIpv6(Eps);
            SetMac(_topo.Host, DatapathTopology.LowerName, LowerMac);
            SetMac(_topo.Ext, DatapathTopology.ExtName, ExtMac);
            LowerIndex = IfIndex(_topo.Host.Name, DatapathTopology.LowerName);
            int ext = IfIndex(_topo.Ext.Name, DatapathTopology.ExtName);
            AwaitWireEnd(_topo.Host.Name, LowerIndex);
            AwaitWireEnd(_topo.Ext.Name, ext);
            _wire = Own(new FrameObserver(_topo.Ext.Name, ext));
            _wireInjector = Own(NetNamespace.Run(_topo.Ext.Name, () => new PacketSocket(ext, new PacketSocketOptions { Protocol = 0 })));
            if (kernel)
            {
                foreach (var type in new[] { FrameObserver.TestEtherType, FrameObserver.PauseEtherType })
                    _lowerStack.Add(Own(new FrameObserver(_topo.Host.Name, LowerIndex, type, onlyOwnIfIndex: true)));
            }
            else
            {
                _switch = new DatapathSwitch(_topo.Host.Name, log: log);
                Datapath = _switch.OpenLower(DatapathTopology.LowerName);
                Datapath.PassedToLowerStack = frame =>
                {
                    if (FrameObserver.TagOf(frame) is not null) _passed.Enqueue(frame.ToArray());
                };
            }
            if (relay) AwaitBridgeForwarding();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public bool IsKernel { get; }
    public bool SpoofCheck { get; }
    public bool IsRelay { get; }
    public TestNamespace Eps { get; } = null!;
    public int LowerIndex { get; }
    /// <summary>mvtap only.</summary>
    public LowerDatapath? Datapath { get; }
    /// <summary>mvtap only: the switch, for its endpoints' attachments.</summary>
    public DatapathSwitch? Switch => _switch;
    /// <summary>The namespace of the lower (and of mvtap's outer veth ends).</summary>
    public string HostNamespace => _topo.Host.Name;
    public string Flavor => IsKernel ? "kernel" : "mvtap";

    /// <summary>An endpoint: where its interface is, and (once it is in its namespace) its observation point and injector.</summary>
    private sealed record Member(string Name, MacAddress Mac, int IfIndex, Endpoint? Endpoint, FrameObserver? Observer, PacketSocket? Injector)
    {
        public string Namespace { get; init; } = "";
    }

    private T Own<T>(T d) where T : IDisposable { _owned.Add(d); return d; }

    private static void NoIpv6(TestNamespace ns) =>
        TestNet.Run("ip", "netns", "exec", ns.Name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");

    private static void SetMac(TestNamespace ns, string ifName, MacAddress mac)
    {
        ns.Ip("link", "set", ifName, "down");
        ns.Ip("link", "set", ifName, "address", mac.ToString());
        ns.Ip("link", "set", ifName, "up");
    }

    /// <summary>
    /// Waits (bounded) until one end of the wire, just brought down and up again, is operational. Its carrier
    /// is back at once, its transmit queue only when the kernel's link watch work has run, late on a machine
    /// busy with netlink; until then what is sent through it (the lower's frames to the wire, in either
    /// flavour) is dropped silently. An RTM_GETLINK of the device also runs its pending link watch event.
    /// </summary>
    private static void AwaitWireEnd(string ns, int index)
    {
        const byte IfOperUp = 6;
        using var rtnl = Rtnetlink.InNamespace(ns);
        if (TestNet.WaitFor(() => rtnl.GetLink(index)?.OperState, s => s == IfOperUp) != IfOperUp)
            throw new InvalidOperationException($"interface #{index} in {ns} was not operational within the wait");
    }

    private static int IfIndex(string ns, string ifName)
    {
        using var rtnl = Rtnetlink.InNamespace(ns);
        return rtnl.GetLink(ifName)?.Index ?? throw new InvalidOperationException($"no {ifName} in {ns}");
    }

    public MacAddress MacOf(string role) => _members[role].Mac;

    /// <summary>Adds the endpoint named by its role: P private, V/V2 vepa, B/B2 bridge, S/S2 source
    /// (listing X), T passthru. Brought up.</summary>
    public void Add(string role, bool noDst = false)
    {
        var mode = role[0] switch
        {
            'P' => EndpointMode.Private,
            'V' => EndpointMode.Vepa,
            'B' => EndpointMode.Bridge,
            'S' => EndpointMode.Source,
            'T' => EndpointMode.Passthru,
            _ => throw new ArgumentOutOfRangeException(nameof(role)),
        };
        MacAddress? fixedMac = mode == EndpointMode.Passthru ? null : RoleMacs[role];
        Endpoint? ep = null;
        if (IsKernel)
        {
            var add = new List<string> { "link", "add", "link", DatapathTopology.LowerName, "name", role };
            if (fixedMac is { } m) add.AddRange(["address", m.ToString()]);
            add.AddRange(["type", "macvlan", "mode", mode.Name()]);
            if (noDst) add.Add("nodst");
            _topo.Host.Ip([.. add]);
            if (mode == EndpointMode.Source) _topo.Host.Ip("link", "set", "dev", role, "type", "macvlan", "macaddr", "add", X.ToString());
            _topo.Host.Ip("link", "set", role, "netns", Eps.Name);
            Eps.Ip("link", "set", role, "up");
        }
        else
        {
            ep = _switch!.AddMacvlanEndpoint(Datapath!, new EndpointSettings
            {
                Name = role,
                Mac = fixedMac,
                Mode = mode,
                Flags = noDst ? EndpointFlags.NoDst : EndpointFlags.None,
                SpoofCheck = SpoofCheck,
            }, Eps.Name, role);
            if (mode == EndpointMode.Source)
                Datapath!.Port.Change(ep, new EndpointChange { MacaddrOp = MacaddrOperation.Add, Macaddr = X });
        }
        int index = IfIndex(Eps.Name, role);
        MacAddress mac;
        using (var rtnl = Rtnetlink.InNamespace(Eps.Name)) mac = rtnl.GetLink(role)!.Address!.Value;
        var observer = Own(new FrameObserver(Eps.Name, index));
        var injector = Own(NetNamespace.Run(Eps.Name, () => new PacketSocket(index, new PacketSocketOptions { Protocol = 0, SendBuffer = 1 << 20 })));
        _members[role] = new Member(role, mac, index, ep, observer, injector) { Namespace = Eps.Name };
    }

    /// <summary>`ip link set ROLE up|down` / the endpoint's admin state.</summary>
    public void SetUp(string role, bool up)
    {
        if (IsKernel) TestNet.Ip("-n", _members[role].Namespace, "link", "set", role, up ? "up" : "down");
        else Datapath!.Port.SetUp(_members[role].Endpoint!, up);
    }

    /// <summary>`ip link set ext0 down` in the ext namespace: the lower loses its carrier (spec 4.5, X09).
    /// For the kernel, returns once every endpoint lost its carrier too (linkwatch propagates it asynchronously); bounded.</summary>
    public void CutWire()
    {
        _topo.Ext.Ip("link", "set", DatapathTopology.ExtName, "down");
        if (!IsKernel)
        {
            // mvtap learns it from the link monitor's RTNLGRP_LINK event, asynchronously too
            if (TestNet.WaitFor(() => Datapath!.Port.Lower.HasCarrier, carrier => !carrier))
                throw new InvalidOperationException("mvtap's port kept the lower's carrier for 5 s after the wire went down");
            return;
        }
        using var rtnl = Rtnetlink.InNamespace(Eps.Name);
        bool AnyCarrier() => _members.Values.Where(m => m.Namespace == Eps.Name).Any(m => rtnl.GetLink(m.Name) is { } l && (l.Carrier ?? l.IsLowerUp));
        if (TestNet.WaitFor(AnyCarrier, any => !any))
            throw new InvalidOperationException("the kernel's endpoints kept their carrier for 5 s after the wire went down");
    }

    /// <summary>`ip maddr add GROUP dev ROLE` / the endpoint joins the group.</summary>
    public void Join(string role, MacAddress group)
    {
        if (IsKernel) Eps.Ip("maddr", "add", group.ToString(), "dev", role);
        else Datapath!.Port.JoinGroup(_members[role].Endpoint!, group);
    }

    /// <summary>`ip link set ROLE allmulticast on` / the endpoint's IFF_ALLMULTI.</summary>
    public void AllMulti(string role)
    {
        if (IsKernel) Eps.Ip("link", "set", role, "allmulticast", "on");
        else Datapath!.Port.Change(_members[role].Endpoint!, new EndpointChange { AllMulti = true });
    }

    public Endpoint MvtapEndpoint(string role) => _members[role].Endpoint!;

    private uint TagFor(string label)
    {
        _labels.Add(label);
        return E2eFrames.TagBase | (uint)(_labels.Count - 1);
    }

    private string LabelOf(uint tag) => (int)(tag & 0xFFFF) < _labels.Count ? _labels[(int)(tag & 0xFFFF)] : $"?{tag:x}";

    /// <summary>Injects a crafted frame into the lower's receive path, as the external switch would.</summary>
    public void FromWire(string label, MacAddress dst, MacAddress src, ushort etherType = FrameObserver.TestEtherType, ushort? vlan = null)
    {
        if (!_wireInjector.Send(E2eFrames.Build(dst, src, TagFor(label), etherType, vlan)))
            throw new InvalidOperationException("wire injector's buffer is full");
    }

    /// <summary>A frame from the wire outside the case's labelled sequence (calibration), so both flavours keep the same tags.</summary>
    public void Probe(MacAddress dst)
    {
        if (!_wireInjector.Send(E2eFrames.Build(dst, External, E2eFrames.TagBase | 0xFFFF)))
            throw new InvalidOperationException("wire injector's buffer is full");
    }

    /// <summary>Transmits a crafted frame from an endpoint's interface (source = the endpoint's MAC unless given).</summary>
    /// <param name="mayBeRefused">the kernel may refuse the send itself (ENOBUFS from a macvlan without carrier).</param>
    public void FromEndpoint(string label, string role, MacAddress dst, MacAddress? src = null, bool mayBeRefused = false,
        ushort etherType = FrameObserver.TestEtherType, ushort? vlan = null)
    {
        var m = _members[role];
        if (!m.Injector!.Send(E2eFrames.Build(dst, src ?? m.Mac, TagFor(label), etherType, vlan)) && !mayBeRefused)
            throw new InvalidOperationException($"{role}'s injector's buffer is full");
    }

    public void Dispose()
    {
        _switch?.Dispose();
        foreach (var d in _owned) d.Dispose();
        _topo.Dispose();
    }
}
