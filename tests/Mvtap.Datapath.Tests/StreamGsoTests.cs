// StreamAttachment (QEMU `-netdev stream`, no vnet header) handed a GSO frame: the peer reads
// every segment as its own length-prefixed wire frame with computed checksums, equal to what
// GsoSegmenter makes of it; a frame the segmenter refuses is one counted drop and nothing on
// the socket. Driven directly, without a datapath thread: accept, deliver, flush, read.
using System.Buffers.Binary;
using System.Net.Sockets;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Datapath;
using Mvtap.Tests.Gso;

namespace Mvtap.Datapath.Tests;

public sealed class StreamGsoTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mvtap-stream-gso-").FullName;
    private readonly StreamAttachment _stream;
    private readonly Socket _peer;

    public StreamGsoTests()
    {
        var port = new Port(new LowerDevice("l", MacAddress.Parse("02:00:00:00:00:01")));
        var endpoint = port.Create(new EndpointSettings { Name = "mvtap-gso" });
        _stream = StreamAttachment.Listen(endpoint, Path.Combine(_dir, "tap9.stream"), -1, -1, new GuestClaim(), 1);
        _peer = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 5000 };
        try
        {
            _peer.Connect(new UnixDomainSocketEndPoint(_stream.SocketPath));
            _stream.ReceiveBatch(0, null!); // source 0: accept
            Assert.True(_stream.IsConnected);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        _peer.Dispose();
        _stream.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private byte[] ReadFrame()
    {
        var length = new byte[4];
        using var stream = new NetworkStream(_peer, ownsSocket: false);
        stream.ReadExactly(length);
        var frame = new byte[BinaryPrimitives.ReadUInt32BigEndian(length)];
        stream.ReadExactly(frame);
        return frame;
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void A64KbGsoFrame_ArrivesAsWireFrames(bool ipv6, bool vlan)
    {
        var (frame, vnet) = GsoFrames.Build(new GsoFrameSpec(Ipv6: ipv6, Vlan: vlan, Payload: 65000 - 72, Mss: 1448, TcpOptions: 12));
        var sink = new CollectingSink();
        Assert.Equal(GsoVerdict.Segmented, GsoSegmenter.Segment(frame, vnet, false, ref sink, out int total, out _));
        Assert.True(total >= 44);

        _stream.Deliver(new VnetFrame(frame, vnet));
        _stream.Flush();

        foreach (var (expected, _) in sink.Segments)
        {
            var got = ReadFrame();
            Assert.Equal(expected, got);
            Assert.True(GsoFrames.TransportChecksumVerifies(got));
        }
        Assert.Equal(total, _stream.GsoSegments);
        Assert.Equal(0, _stream.Endpoint.Counters.RxDropped);
    }

    [Fact]
    public void RefusedSegmentation_IsOneCountedDropAndNothingOnTheSocket()
    {
        var (frame, vnet) = GsoFrames.Build(new GsoFrameSpec(Payload: 3000, Mss: 1000));
        vnet.GsoSize = 0;
        _stream.Deliver(new VnetFrame(frame, vnet));
        var (small, _) = GsoFrames.Build(new GsoFrameSpec(Payload: 100, Mss: 1000));
        _stream.Deliver(new VnetFrame(small)); // a plain frame after it still goes through
        _stream.Flush();

        Assert.Equal(small, ReadFrame());
        Assert.Equal(1, _stream.Endpoint.Counters.RxDropped);
        Assert.Equal(1, _stream.Endpoint.Counters[DropReason.BadVirtioHeader]);
        Assert.Equal(0, _stream.GsoSegments);
    }
}
