// Endpoints of a differential topology made the way a user makes them, one command at a time, each
// moved into a namespace of its own (a container), and the commands a scenario runs on them:
//   - on the switch: `link add`, `link set NAME netns NS`, `up|down`, `type macvlan mode M`, flags,
//     `macaddr add|del|set|flush`: the kernel's `ip` on one side, mvtap's Port/DatapathSwitch (what
//     `mvtap link ...` calls in mvtapd) on the other; a refusal comes back as the errno's text;
//   - inside the container: any `ip -n NS ...` command, or a packet socket's membership (a group,
//     ALLMULTI, PROMISC), the same on both sides (the kernel's macvlan device, mvtap's inner veth
//     end, which mvtap follows: InnerLinkMonitor);
//   - frames sent from the wire, from an endpoint's interface or from the lower's own stack.
using Mvtap.Core.Forwarding;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Datapath.Tests;
using Mvtap.Linux;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

namespace Mvtap.Datapath.Tests.E2e;

internal sealed partial class DifferentialTopology
{
    /// <summary>`link add link low0 name NAME [address MAC] type macvlan mode M [nodst]`: down, in the lower's
    /// namespace (a passthru endpoint takes the lower's MAC). mvtap: spoofchk as the topology's.</summary>
    public void Create(string name, EndpointMode mode, MacAddress? mac, EndpointFlags flags)
    {
        Endpoint? ep = null;
        if (IsKernel)
        {
            var add = new List<string> { "link", "add", "link", DatapathTopology.LowerName, "name", name };
            if (mac is { } m) add.AddRange(["address", m.ToString()]);
            add.AddRange(["type", "macvlan", "mode", mode.Name()]);
            if ((flags & EndpointFlags.NoDst) != 0) add.Add("nodst");
            if ((flags & EndpointFlags.NoPromisc) != 0) add.Add("nopromisc");
            _topo.Host.Ip([.. add]);
        }
        else
        {
            ep = _switch!.AddMacvlanEndpoint(Datapath!, new EndpointSettings
            {
                Name = name, Mac = mac, Mode = mode, Flags = flags, SpoofCheck = SpoofCheck,
            }, netns: null, name, up: false);
        }
        using var rtnl = Rtnetlink.InNamespace(HostNamespace);
        var link = rtnl.GetLink(name) ?? throw new InvalidOperationException($"no {name} after link add");
        _members[name] = new Member(name, link.Address!.Value, link.Index, ep, null, null) { Namespace = HostNamespace };
    }

    /// <summary>`link set NAME netns NS` into a new namespace of its own (IPv6 off, as everywhere here); its
    /// observation point and injector are opened there. With <paramref name="byRuntime"/> mvtap's interface is
    /// moved with `ip link set NAME netns NS` in the switch's namespace, as a container runtime moves a NIC,
    /// rather than through the switch (`mvtap link set NAME netns NS`); the kernel's is moved by `ip` either way.
    /// Returns the namespace's name.</summary>
    public string MoveToOwnNamespace(string name, bool byRuntime = false)
    {
        var m = _members[name];
        var ns = _topo.NewNamespace();
        NoIpv6(ns);
        if (IsKernel || byRuntime) TestNet.Ip("-n", m.Namespace, "link", "set", name, "netns", ns.Name);
        else _switch!.MoveEndpoint(m.Endpoint!, ns.Name);
        int index = IfIndex(ns.Name, name);
        var observer = Own(new FrameObserver(ns.Name, index));
        var injector = Own(NetNamespace.Run(ns.Name, () => new PacketSocket(index, new PacketSocketOptions { Protocol = 0, SendBuffer = 1 << 20 })));
        _members[name] = m with { IfIndex = index, Observer = observer, Injector = injector, Namespace = ns.Name };
        return ns.Name;
    }

    /// <summary>The namespace an endpoint's interface is in now.</summary>
    public string NamespaceOf(string name) => _members[name].Namespace;

    public IReadOnlyCollection<string> Endpoints => _members.Keys;

    /// <summary>`ip -n NS link set NAME type macvlan mode M` / the port's mode change. Null when accepted, else the error.</summary>
    public string? SetModeOf(string name, EndpointMode mode) =>
        OnSwitch(name, ["mode", mode.Name()], new EndpointChange { Mode = mode });

    /// <summary>`ip -n NS link set NAME type macvlan nodst` (the flags become exactly that) / the port's flags change.</summary>
    public string? SetNoDst(string name) => OnSwitch(name, ["nodst"], new EndpointChange { Flags = EndpointFlags.NoDst });

    /// <summary>`ip -n NS link set NAME type macvlan macaddr add|del MAC | set MAC... | flush` / the port's list change.</summary>
    public string? EditSources(string name, MacaddrOperation op, IReadOnlyList<MacAddress> macs)
    {
        string[] words = op switch
        {
            MacaddrOperation.Add => ["macaddr", "add", macs[0].ToString()],
            MacaddrOperation.Delete => ["macaddr", "del", macs[0].ToString()],
            MacaddrOperation.Set => ["macaddr", "set", .. macs.Select(m => m.ToString())],
            _ => ["macaddr", "flush"],
        };
        var change = op switch
        {
            MacaddrOperation.Add or MacaddrOperation.Delete => new EndpointChange { MacaddrOp = op, Macaddr = macs[0] },
            MacaddrOperation.Set => new EndpointChange { MacaddrOp = op, MacaddrData = macs },
            _ => new EndpointChange { MacaddrOp = op },
        };
        return OnSwitch(name, words, change);
    }

    /// <summary>`ip link set NAME up|down` on the switch's side: the kernel's device, or mvtap's port (which
    /// pushes the state into the interface). Null when accepted, else the error.</summary>
    public string? SetUpOnSwitch(string name, bool up) =>
        OnSwitch(name, null, new EndpointChange { Up = up }, ["link", "set", name, up ? "up" : "down"]);

    private string? OnSwitch(string name, string[]? typeWords, EndpointChange change, string[]? ipArgs = null)
    {
        var m = _members[name];
        try
        {
            if (IsKernel) TestNet.Ip(["-n", m.Namespace, .. ipArgs ?? ["link", "set", name, "type", "macvlan", .. typeWords!]]);
            else Datapath!.Port.Change(m.Endpoint!, change);
            return null;
        }
        catch (MvtapException e) { return MvtapException.Describe(e.Errno); }
        catch (InvalidOperationException e) { return IpError(e.Message); }
    }

    /// <summary>Runs `ip -n NS ARGS...` inside the endpoint's namespace, the same on both sides. Null when
    /// accepted, else the error.</summary>
    public string? Inside(string name, params string[] args)
    {
        try
        {
            TestNet.Ip(["-n", _members[name].Namespace, .. args]);
            return null;
        }
        catch (InvalidOperationException e) { return IpError(e.Message); }
    }

    /// <summary>Inside the container, through the endpoint's own packet socket (kept open for the topology's
    /// life): PACKET_ADD_MEMBERSHIP with PACKET_MR_MULTICAST for <paramref name="group"/>, or PACKET_MR_ALLMULTI /
    /// PACKET_MR_PROMISC when it is null. Null when accepted, else the error.</summary>
    public string? SocketMembership(string name, MacAddress? group, bool promisc = false)
    {
        var socket = _members[name].Injector ?? throw new InvalidOperationException($"{name} is not in a namespace of its own");
        try
        {
            if (group is { } g) socket.AddMulticast(g);
            else if (promisc) socket.SetPromiscuous(true);
            else socket.SetAllmulti(true);
            return null;
        }
        catch (SystemCallException e) { return e.Message; }
    }

    // "ip ...: exit 2: RTNETLINK answers: Invalid argument\n" -> "Invalid argument"
    private static string IpError(string message)
    {
        int at = message.LastIndexOf("answers: ", StringComparison.Ordinal);
        return (at < 0 ? message : message[(at + "answers: ".Length)..]).Trim();
    }

    /// <summary>For mvtap: waits (bounded by <paramref name="within"/>, default 5 s) until the endpoint and its
    /// published forwarding table satisfy <paramref name="followed"/> (the monitor has seen a change made inside
    /// the container; the kernel's is in effect when `ip` returns). True when it holds.</summary>
    public bool AwaitFollowed(string name, Func<Endpoint, EndpointSnapshot, bool> followed, TimeSpan? within = null)
    {
        if (IsKernel) return true;
        var ep = _members[name].Endpoint!;
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(5));
        while (true)
        {
            if (ep.Port.Table.Find(ep) is { } s && followed(ep, s)) return true;
            if (DateTime.UtcNow >= deadline) return false;
            Thread.Sleep(5);
        }
    }

    /// <summary>
    /// Waits (bounded) until the interface is operationally up, and for mvtap the outer end of its pair too. A
    /// device that regains its carrier gets its transmit queue back from the kernel's linkwatch work a moment
    /// later (dev_activate, with the operstate); until then what is sent through it is dropped silently. Both
    /// flavours wait the same way; the kernel's macvlan is up at once. True when both are up.
    /// </summary>
    public bool AwaitOperational(string name)
    {
        const byte IfOperUp = 6;
        var m = _members[name];
        using (var rtnl = Rtnetlink.InNamespace(m.Namespace))
            if (TestNet.WaitFor(() => rtnl.GetLink(m.IfIndex)?.OperState, s => s == IfOperUp) != IfOperUp) return false;
        if (IsKernel) return true;
        string outer = _switch!.AttachmentOf(m.Endpoint!).OuterName;
        using var host = Rtnetlink.InNamespace(HostNamespace);
        return TestNet.WaitFor(() => host.GetLink(outer)?.OperState, s => s == IfOperUp) == IfOperUp;
    }

    /// <summary>Sends <paramref name="frame"/> as is from "wire" (the external switch's side), "lower" (the lower's
    /// own stack: a packet socket on low0) or an endpoint's interface. Null when sent, else why not.</summary>
    public string? Send(string from, byte[] frame)
    {
        var socket = from switch
        {
            "wire" => _wireInjector,
            "lower" => _lowerInjector ??= Own(NetNamespace.Run(HostNamespace,
                () => new PacketSocket(LowerIndex, new PacketSocketOptions { Protocol = 0, SendBuffer = 1 << 20 }))),
            _ => _members[from].Injector ?? throw new InvalidOperationException($"{from} is not in a namespace of its own"),
        };
        try
        {
            return socket.Send(frame) ? null : "buffer full";
        }
        catch (SystemCallException e)
        {
            return e.Message;
        }
    }

    /// <summary>With a relay: waits (bounded) until the bridge forwards on the wire's port.</summary>
    private void AwaitBridgeForwarding()
    {
        bool forwarding = TestNet.WaitFor(() => TestNet.Run("bridge", "-n", _topo.Ext.Name, "link", "show", "dev", DatapathTopology.ExtName),
            text => text.Contains("state forwarding", StringComparison.Ordinal)).Contains("state forwarding", StringComparison.Ordinal);
        if (!forwarding) throw new InvalidOperationException("the relay bridge's port did not start forwarding within 5 s");
    }
}
