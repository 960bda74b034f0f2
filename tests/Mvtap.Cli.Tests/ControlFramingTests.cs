// The control framing and codec: round trips, the 1 MiB limit on both sides, truncated frames
// as errors (not hangs), undecodable JSON, and "op" accepted anywhere in the object.
using System.Buffers.Binary;
using Mvtap.Control;
using Mvtap.Core.Model;

namespace Mvtap.Cli.Tests;

public class ControlFramingTests
{
    private static byte[] Header(uint length)
    {
        var h = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(h, length);
        return h;
    }

    [Fact]
    public void Frame_is_big_endian_length_then_payload_and_round_trips()
    {
        var ms = new MemoryStream();
        ControlFraming.WriteFrame(ms, "{}"u8);
        Assert.Equal(new byte[] { 0, 0, 0, 2, (byte)'{', (byte)'}' }, ms.ToArray());
        ms.Position = 0;
        Assert.Equal("{}"u8.ToArray(), ControlFraming.ReadFrame(ms));
        Assert.Null(ControlFraming.ReadFrame(ms));
    }

    [Fact]
    public async Task Async_frames_round_trip()
    {
        var ms = new MemoryStream();
        await ControlFraming.WriteFrameAsync(ms, new byte[] { 1, 2, 3 }, CancellationToken.None);
        ms.Position = 0;
        Assert.Equal(new byte[] { 1, 2, 3 }, await ControlFraming.ReadFrameAsync(ms, CancellationToken.None));
        Assert.Null(await ControlFraming.ReadFrameAsync(ms, CancellationToken.None));
    }

    [Fact]
    public async Task Oversized_incoming_frame_is_refused_without_reading_it()
    {
        var ms = new MemoryStream(Header(ControlFraming.MaxFrameSize + 1));
        var e = Assert.Throws<ControlProtocolException>(() => ControlFraming.ReadFrame(ms));
        Assert.Equal("control frame of 1048577 bytes exceeds the maximum of 1048576 bytes", e.Message);
        var ms2 = new MemoryStream(Header(uint.MaxValue));
        await Assert.ThrowsAsync<ControlProtocolException>(() => ControlFraming.ReadFrameAsync(ms2, CancellationToken.None));
    }

    [Fact]
    public void Frame_of_exactly_the_maximum_is_accepted()
    {
        var ms = new MemoryStream();
        ControlFraming.WriteFrame(ms, new byte[ControlFraming.MaxFrameSize]);
        ms.Position = 0;
        Assert.Equal(ControlFraming.MaxFrameSize, ControlFraming.ReadFrame(ms)!.Length);
    }

    [Fact]
    public void Oversized_outgoing_frame_is_refused_before_writing()
    {
        var ms = new MemoryStream();
        Assert.Throws<ControlProtocolException>(() => ControlFraming.WriteFrame(ms, new byte[ControlFraming.MaxFrameSize + 1]));
        Assert.Equal(0, ms.Length);
    }

    [Fact]
    public void Truncated_payload_is_an_error()
    {
        var ms = new MemoryStream([.. Header(100), .. new byte[10]]);
        var e = Assert.Throws<ControlProtocolException>(() => ControlFraming.ReadFrame(ms));
        Assert.Equal("truncated control frame: payload has 10 of 100 bytes", e.Message);
    }

    [Fact]
    public void Truncated_header_is_an_error()
    {
        var e = Assert.Throws<ControlProtocolException>(() => ControlFraming.ReadFrame(new MemoryStream([0, 0])));
        Assert.Equal("truncated control frame: header has 2 of 4 bytes", e.Message);
    }

    [Fact]
    public void Requests_round_trip_through_the_codec()
    {
        ControlRequest[] requests =
        [
            new LinkAddRequest { Lower = "eth1", Name = "m0", Type = "macvtap", Mode = "source", Flags = ["nodst"],
                Macaddrs = ["02:00:00:00:00:01"], MacaddrOperation = "set", BcCutoff = -1, SpoofCheck = false },
            new LinkSetRequest { Name = "m0", Up = true, Netns = "ns1" },
            new LinkDelRequest { Name = "m0" },
            new LinkShowRequest(),
        ];
        foreach (var r in requests)
        {
            var back = ControlCodec.DecodeRequest(ControlCodec.EncodeRequest(r));
            Assert.Equal(r.GetType(), back.GetType());
            Assert.Equal(CliRun.Json(r), CliRun.Json(back));
        }
    }

    [Fact]
    public void Op_may_come_anywhere_in_the_request_object()
    {
        var r = ControlCodec.DecodeRequest("""{"name":"m0","up":false,"op":"link-set"}"""u8);
        var set = Assert.IsType<LinkSetRequest>(r);
        Assert.Equal("m0", set.Name);
        Assert.False(set.Up);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("""{"op":"link-explode"}""")]
    [InlineData("null")]
    public void Undecodable_request_is_a_protocol_error(string json)
    {
        Assert.Throws<ControlProtocolException>(() => ControlCodec.DecodeRequest(System.Text.Encoding.UTF8.GetBytes(json)));
    }

    [Fact]
    public void Responses_round_trip_with_links_and_errors()
    {
        var ok = ControlResponse.Success([SampleLinks.SourceMacvlan]);
        var back = ControlCodec.DecodeResponse(ControlCodec.EncodeResponse(ok));
        Assert.True(back.Ok);
        var link = Assert.Single(back.Links!);
        Assert.Equal(SampleLinks.SourceMacvlan.Macaddrs, link.Macaddrs);
        Assert.Equal(-1, link.BcCutoff);
        Assert.Equal("ns1", link.Netns);

        var refused = ControlCodec.DecodeResponse(ControlCodec.EncodeResponse(ControlResponse.Failure(98, "address 1a:46:0b:ca:bc:7b is in use by macvtap1")));
        Assert.False(refused.Ok);
        Assert.Equal(new ControlError((int)Errno.EADDRINUSE, "address 1a:46:0b:ca:bc:7b is in use by macvtap1"), refused.Error);
        Assert.Equal("""{"ok":false,"error":{"errno":98,"message":"x"}}""",
            System.Text.Encoding.UTF8.GetString(ControlCodec.EncodeResponse(ControlResponse.Failure(98, "x"))));
    }

    [Fact]
    public void Run_dir_paths_are_named_after_the_index()
    {
        Assert.Equal("/run/mvtap/mvtapd.sock", ControlPaths.SocketPath(ControlPaths.DefaultRunDir));
        Assert.Equal("/tmp/r/tap12.vhost", ControlPaths.VhostUserPath("/tmp/r", 12));
        Assert.Equal("/tmp/r/tap12.stream", ControlPaths.StreamPath("/tmp/r", 12));
    }
}
