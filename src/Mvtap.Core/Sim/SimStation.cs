// Something attached to the simulated network that sends and receives frames: an endpoint,
// an external host behind the switch, or the lower device's own host stack.
using Mvtap.Core.Forwarding;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;

namespace Mvtap.Core.Sim;

public enum StationKind { Endpoint, ExternalHost, LowerStack }

public readonly record struct ReceivedFrame(byte[] Frame, DeliveryKind Kind)
{
    public MacAddress Destination => EthernetFrame.Destination(Frame);
    public MacAddress Source => EthernetFrame.Source(Frame);
}

public sealed class SimStation
{
    private readonly SimNetwork _network;
    private readonly MacAddress _fixedMac;

    internal SimStation(SimNetwork network, string name, StationKind kind, MacAddress mac, Endpoint? endpoint)
    {
        _network = network;
        Name = name;
        Kind = kind;
        _fixedMac = mac;
        Endpoint = endpoint;
    }

    public string Name { get; }
    public StationKind Kind { get; }
    public Endpoint? Endpoint { get; }

    /// <summary>The station's current MAC (an endpoint's may change).</summary>
    public MacAddress Mac => Kind switch
    {
        StationKind.Endpoint => Endpoint!.Mac,
        StationKind.LowerStack => _network.Port.Lower.Mac,
        _ => _fixedMac,
    };

    public List<ReceivedFrame> Inbox { get; } = [];

    /// <summary>Frames a host stack would accept: to its MAC, broadcast, or any multicast.</summary>
    public IEnumerable<ReceivedFrame> Accepted =>
        Inbox.Where(f => f.Destination == Mac || f.Destination.IsMulticast);

    /// <summary>Sends a frame from this station and runs the network until it is quiet.</summary>
    public void Send(byte[] frame) => _network.Send(this, frame);
}
