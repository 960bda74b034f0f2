// BenchmarkDotNet over the forwarding core alone: the cost of one forwarding decision, and
// proof (MemoryDiagnoser) that a steady flow of frames allocates nothing.
using BenchmarkDotNet.Attributes;
using Mvtap.Core.Forwarding;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;

namespace Mvtap.Bench;

[MemoryDiagnoser]
public class ForwardingBenchmarks
{
    /// <summary>Frames per benchmark invocation, so the per-frame cost is the reported time / Batch.</summary>
    public const int Batch = 1024;

    private Port _port = null!;
    private Endpoint _b1 = null!;
    private readonly byte[] _toBridge = new byte[64], _toWire = new byte[64], _broadcast = new byte[64];

    private struct CountingSink : IDeliverySink
    {
        public long Endpoints, Wire, Lower;
        public void ToEndpoint(EndpointSnapshot endpoint, in VnetFrame packet, DeliveryKind kind) => Endpoints++;
        public void ToWire(in VnetFrame packet) => Wire++;
        public void ToLowerStack(in VnetFrame packet) => Lower++;
    }

    private CountingSink _sink;

    [GlobalSetup]
    public void Setup()
    {
        _port = new Port(new LowerDevice("eth1", MacAddress.Parse("02:00:00:00:00:01")));
        var eps = new List<Endpoint>();
        for (int i = 0; i < 8; i++)
        {
            var ep = _port.Create(new EndpointSettings { Name = $"b{i}", Mode = EndpointMode.Bridge, Mac = new MacAddress(0x1a_00_00_00_00_10UL + (ulong)i) });
            _port.SetUp(ep, true);
            eps.Add(ep);
        }
        _b1 = eps[0];
        EthernetFrame.WriteHeader(_toBridge, eps[1].Mac, _b1.Mac, 0x0800);
        EthernetFrame.WriteHeader(_toWire, MacAddress.Parse("02:00:00:00:ee:01"), _b1.Mac, 0x0800);
        EthernetFrame.WriteHeader(_broadcast, MacAddress.Broadcast, MacAddress.Parse("02:00:00:00:ee:01"), 0x0806);
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "64 B unicast bridge->bridge")]
    public long UnicastBridgeToBridge()
    {
        var table = _port.Table;
        for (int i = 0; i < Batch; i++) Forwarder.Transmit(table, _b1, new VnetFrame(_toBridge), ref _sink);
        return _sink.Endpoints;
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "64 B unicast to the wire")]
    public long UnicastToWire()
    {
        var table = _port.Table;
        for (int i = 0; i < Batch; i++) Forwarder.Transmit(table, _b1, new VnetFrame(_toWire), ref _sink);
        return _sink.Wire;
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "broadcast from the wire to 8 endpoints (queued + drained)")]
    public long BroadcastToEight()
    {
        var table = _port.Table;
        for (int i = 0; i < Batch; i++)
        {
            Forwarder.Receive(table, new VnetFrame(_broadcast), ref _sink);
            if ((i & 63) == 63) Forwarder.ProcessBroadcasts(table, ref _sink); // one work run per batch of 64
        }
        Forwarder.ProcessBroadcasts(table, ref _sink);
        return _sink.Endpoints;
    }
}
