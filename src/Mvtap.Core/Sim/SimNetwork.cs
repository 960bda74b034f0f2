// The `sim` lower device: an in-process external switch (a learning bridge, with hairpin
// mode on or off) with external hosts on its other ports, and one lower device whose port
// runs the real forwarding core. It lets the modes be seen without root, and is the harness
// of the core's delivery-matrix tests; it is never a stand-in for the real datapath's tests.
using Mvtap.Core.Forwarding;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;

namespace Mvtap.Core.Sim;

public sealed class SimNetwork
{
    private const int LowerSwitchPort = 0;
    private readonly List<SimStation> _hosts = [];
    private readonly Dictionary<Endpoint, SimStation> _endpointStations = [];
    private readonly Dictionary<MacAddress, int> _fdb = [];
    private readonly Queue<(int ingress, byte[] frame)> _switchQueue = new();

    public SimNetwork(bool hairpin = false, MacAddress? lowerMac = null, bool lowerFiltersUnicast = true, int mtu = 1500)
    {
        Hairpin = hairpin;
        var lower = new LowerDevice("sim0", lowerMac ?? MacAddress.Parse("02:00:00:00:00:01"), mtu, supportsUnicastFilter: lowerFiltersUnicast);
        Port = new Port(lower, new Random(1));
        LowerStack = new SimStation(this, lower.Name, StationKind.LowerStack, lower.Mac, null);
    }

    /// <summary>Reflective relay: the switch may send a frame back out of the port it came in on.</summary>
    public bool Hairpin { get; set; }
    public Port Port { get; }
    public SimStation LowerStack { get; }
    public IReadOnlyList<SimStation> ExternalHosts => _hosts;
    /// <summary>Frames the switch received from the lower device (what left on the wire).</summary>
    public List<byte[]> Wire { get; } = [];

    public SimStation AddExternalHost(string name, MacAddress mac)
    {
        var host = new SimStation(this, name, StationKind.ExternalHost, mac, null);
        _hosts.Add(host);
        _fdb[mac] = _hosts.Count; // switch port i+1 for host i
        return host;
    }

    public SimStation AddEndpoint(EndpointSettings settings, bool up = true)
    {
        var ep = Port.Create(settings);
        if (up) Port.SetUp(ep, true);
        return StationFor(ep);
    }

    public SimStation StationFor(Endpoint ep)
    {
        if (!_endpointStations.TryGetValue(ep, out var st))
            _endpointStations[ep] = st = new SimStation(this, ep.Name, StationKind.Endpoint, default, ep);
        return st;
    }

    public void ClearInboxes()
    {
        LowerStack.Inbox.Clear();
        foreach (var h in _hosts) h.Inbox.Clear();
        foreach (var s in _endpointStations.Values) s.Inbox.Clear();
        Wire.Clear();
    }

    /// <summary>Frames the lower receives from the switch, as if injected on the wire.</summary>
    public void InjectFromWire(byte[] frame)
    {
        var sink = new Sink(this);
        Forwarder.Receive(Port.Table, new VnetFrame(frame), ref sink);
        Run();
    }

    internal void Send(SimStation from, byte[] frame)
    {
        var sink = new Sink(this);
        switch (from.Kind)
        {
            case StationKind.Endpoint:
                Forwarder.Transmit(Port.Table, from.Endpoint!, new VnetFrame(frame), ref sink);
                break;
            case StationKind.LowerStack:
                // spec 2: the lower's own stack transmits straight to the wire
                sink.ToWire(new VnetFrame(frame));
                break;
            case StationKind.ExternalHost:
                _switchQueue.Enqueue((_hosts.IndexOf(from) + 1, frame));
                break;
        }
        Run();
    }

    /// <summary>Runs the switch and the broadcast work until nothing is in flight.</summary>
    public void Run()
    {
        var sink = new Sink(this);
        for (int guard = 0; guard < 100_000; guard++)
        {
            if (_switchQueue.TryDequeue(out var item)) { Switch(item.ingress, item.frame, ref sink); continue; }
            if (Forwarder.ProcessBroadcasts(Port.Table, ref sink) > 0) continue;
            return;
        }
        throw new InvalidOperationException("the simulated network did not settle");
    }

    // A learning bridge: learn the source on the ingress port; known destination goes to its
    // port (back out of the ingress only in hairpin mode); unknown and group frames flood.
    private void Switch(int ingress, byte[] frame, ref Sink sink)
    {
        var src = EthernetFrame.Source(frame);
        var dst = EthernetFrame.Destination(frame);
        if (!src.IsMulticast && ingress == LowerSwitchPort) _fdb[src] = LowerSwitchPort;
        if (!dst.IsMulticast && _fdb.TryGetValue(dst, out int port))
        {
            if (port != ingress || Hairpin) Output(port, frame, ref sink);
            return;
        }
        for (int p = 0; p <= _hosts.Count; p++)
            if (p != ingress || Hairpin) Output(p, frame, ref sink);
    }

    private void Output(int port, byte[] frame, ref Sink sink)
    {
        if (port == LowerSwitchPort)
        {
            if (!Port.Lower.IsOperational) return;
            Forwarder.Receive(Port.Table, new VnetFrame(frame), ref sink);
        }
        else
        {
            var dst = EthernetFrame.Destination(frame);
            _hosts[port - 1].Inbox.Add(new ReceivedFrame(frame, dst.IsBroadcast ? DeliveryKind.Broadcast
                : dst.IsMulticast ? DeliveryKind.Multicast : dst == _hosts[port - 1].Mac ? DeliveryKind.Host : DeliveryKind.OtherHost));
        }
    }

    private readonly struct Sink(SimNetwork net) : IDeliverySink
    {
        public void ToEndpoint(EndpointSnapshot endpoint, in VnetFrame packet, DeliveryKind kind) =>
            net.StationFor(endpoint.Endpoint).Inbox.Add(new ReceivedFrame(packet.Frame.ToArray(), kind));

        public void ToWire(in VnetFrame packet)
        {
            var frame = packet.Frame.ToArray();
            net.Wire.Add(frame);
            if (net.Port.Lower.IsOperational) net._switchQueue.Enqueue((LowerSwitchPort, frame));
        }

        public void ToLowerStack(in VnetFrame packet) =>
            net.LowerStack.Inbox.Add(new ReceivedFrame(packet.Frame.ToArray(), packet.Destination.IsBroadcast ? DeliveryKind.Broadcast
                : packet.Destination.IsMulticast ? DeliveryKind.Multicast : DeliveryKind.Host));
    }
}
