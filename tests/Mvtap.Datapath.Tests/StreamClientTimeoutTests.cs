// The stall and idle rules of a macvtap's `-netdev stream` attachment, on real unix sockets
// served by a real lower datapath, with the timeouts made short through the attachment's test
// setters: a client that sends half a frame and then nothing is closed and counted (the half
// frame as a Malformed drop) and the next client is served; an idle client is replaced by one
// waiting for the endpoint, whose frames sent while it waited then arrive; an idle client alone
// keeps its connection; a client waiting behind an active one is served when that one leaves,
// and a third is closed at once. Bridge mode, a second stream endpoint B as the other guest.
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using Mvtap.Core.Model;
using Mvtap.Datapath;
using static Mvtap.Tests.Stream.StreamClient;

namespace Mvtap.Datapath.Tests;

public sealed class StreamClientTimeoutTests : IDisposable
{
    private const string MacA = "02:4d:56:00:05:0a", MacB = "02:4d:56:00:05:0b";
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(200);
    private readonly DatapathTopology _topo = new();
    private readonly DatapathSwitch _switch;
    private readonly LowerDatapath _dp;
    private readonly string _dir = Directory.CreateTempSubdirectory("mvtap-stream-timeout-").FullName;
    private readonly List<StreamAttachment> _streams = [];

    public StreamClientTimeoutTests()
    {
        _switch = new DatapathSwitch(_topo.Host.Name);
        _dp = _switch.OpenLower(DatapathTopology.LowerName);
        A = AddStreamEndpoint("sa", MacA);
        B = AddStreamEndpoint("sb", MacB);
    }

    private StreamAttachment A { get; }
    private StreamAttachment B { get; }

    private StreamAttachment AddStreamEndpoint(string name, string mac)
    {
        var ep = _dp.Port.Create(new EndpointSettings { Name = name, Mode = EndpointMode.Bridge, Mac = Core.Frames.MacAddress.Parse(mac) });
        _dp.Port.SetUp(ep, true);
        var stream = StreamAttachment.Listen(ep, Path.Combine(_dir, $"{name}.stream"), -1, -1, new GuestClaim(), 1);
        _streams.Add(stream);
        _dp.Attach(stream);
        return stream;
    }

    private static Socket Attach(StreamAttachment stream, long connectionsBefore)
    {
        var s = Connect(stream.SocketPath);
        Assert.True(SpinWait.SpinUntil(() => stream.Connections > connectionsBefore, 10_000), "the client was not served");
        return s;
    }

    /// <summary>Waits until <paramref name="span"/> has passed (a pause, not a measurement).</summary>
    private static void Pause(TimeSpan span)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < span) Thread.Sleep(span / 4);
    }

    [Fact]
    public void A_client_that_sends_half_a_frame_and_then_nothing_is_closed_and_counted()
    {
        A.StallTimeout = Short;
        using var gb = Attach(B, 0);
        using (var half = Attach(A, 0))
        {
            var frame = Frame(100, MacB, MacA, 1);
            var bytes = new byte[4 + 40];
            BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)frame.Length);
            frame.AsSpan(0, 40).CopyTo(bytes.AsSpan(4));
            half.Send(bytes);
            Assert.True(Closed(half), "a client stalled in the middle of a frame kept the endpoint");
        }
        Assert.Equal(1, A.ClosedStalled);
        Assert.Equal(0, A.ClosedForBadLength);
        Assert.Equal(1, A.Endpoint.Counters[DropReason.Malformed]);
        // the endpoint is free again
        using var next = Attach(A, 1);
        Exchange(next, gb, Frame(60, MacB, MacA, 2));
    }

    [Fact]
    public void An_idle_client_is_replaced_by_one_waiting_for_the_endpoint()
    {
        A.IdleTimeout = Short;
        using var gb = Attach(B, 0);
        using var idle = Attach(A, 0);
        using var waiting = Connect(A.SocketPath);
        // sent while it waits: read once it has the endpoint
        var early = Frame(70, MacB, MacA, 3);
        Send(waiting, early);
        Assert.True(Closed(idle), "the idle client kept the endpoint from the waiting one");
        Assert.Equal(1, A.ClosedIdle);
        Assert.Equal(0, A.ClosedStalled);
        Assert.True(SpinWait.SpinUntil(() => A.Connections == 2, 10_000), "the waiting client was not served");
        Assert.True(Arrives(gb, early), "the frame sent while waiting did not arrive");
        Exchange(waiting, gb, Frame(80, MacB, MacA, 4));
        Exchange(gb, waiting, Frame(90, MacA, MacB, 5));
    }

    [Fact]
    public void An_idle_client_alone_on_its_endpoint_keeps_its_connection()
    {
        A.IdleTimeout = Short;
        A.StallTimeout = Short;
        using var gb = Attach(B, 0);
        using var quiet = Attach(A, 0);
        Exchange(quiet, gb, Frame(60, MacB, MacA, 6));
        Pause(5 * Short);
        // the datapath wakes for B's frame long after both timeouts: A is still served
        Exchange(gb, quiet, Frame(60, MacA, MacB, 7));
        Exchange(quiet, gb, Frame(61, MacB, MacA, 8));
        Assert.Equal(0, A.ClosedIdle);
        Assert.Equal(0, A.ClosedStalled);
        Assert.Equal(1, A.Connections);
    }

    [Fact]
    public void A_client_waiting_behind_an_active_one_is_served_when_it_leaves_and_a_third_is_closed_at_once()
    {
        using var gb = Attach(B, 0);
        var first = Attach(A, 0);
        Exchange(first, gb, Frame(60, MacB, MacA, 9));
        using var waiting = Connect(A.SocketPath);
        Assert.True(SpinWait.SpinUntil(() => A.HasWaitingClient, 10_000), $"the second client is not waiting");
        using (var third = Connect(A.SocketPath)) Assert.True(Closed(third), "a third client was kept");
        Assert.Equal(1, A.Refused);
        Exchange(first, gb, Frame(61, MacB, MacA, 10)); // the first is still the one served

        first.Dispose();
        Assert.True(SpinWait.SpinUntil(() => A.Connections == 2, 10_000), "the waiting client was not served");
        Exchange(waiting, gb, Frame(62, MacB, MacA, 11));
        Assert.Equal(0, A.ClosedIdle);
    }

    public void Dispose()
    {
        foreach (var s in _streams)
        {
            _dp.Detach(s);
            s.Dispose();
        }
        _switch.Dispose();
        _topo.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
