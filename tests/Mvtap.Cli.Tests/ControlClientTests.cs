// ControlClient end to end over a real Unix socket against a fake mvtapd: request delivered,
// response decoded, and every failure (no daemon, silence, truncation, oversize) an error in
// bounded time rather than a hang.
using System.Diagnostics;
using Mvtap.Control;

namespace Mvtap.Cli.Tests;

public class ControlClientTests
{
    [Fact]
    public void Request_reaches_the_server_and_response_comes_back()
    {
        using var server = new FakeControlServer { Handler = _ => ControlResponse.Success([SampleLinks.Macvtap0]) };
        var response = new ControlClient(server.SocketPath).Send(new LinkShowRequest { Name = "macvtap0" });
        Assert.True(response.Ok);
        Assert.Equal("macvtap0", Assert.Single(response.Links!).Name);
        Assert.Equal("macvtap0", Assert.IsType<LinkShowRequest>(Assert.Single(server.Received)).Name);
    }

    [Fact]
    public void Missing_daemon_is_a_clear_error()
    {
        var dir = Directory.CreateTempSubdirectory("mvtap-cli-none-").FullName;
        try
        {
            var e = Assert.Throws<ControlProtocolException>(() =>
                new ControlClient(ControlPaths.SocketPath(dir)).Send(new LinkShowRequest()));
            Assert.StartsWith($"Cannot connect to mvtapd at {dir}/mvtapd.sock: ", e.Message);
            Assert.EndsWith("(is mvtapd running?)", e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Silent_daemon_times_out()
    {
        using var server = new FakeControlServer { Silent = true };
        var sw = Stopwatch.StartNew();
        var e = Assert.Throws<ControlProtocolException>(() =>
            new ControlClient(server.SocketPath, TimeSpan.FromMilliseconds(300)).Send(new LinkShowRequest()));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"took {sw.Elapsed}");
        Assert.StartsWith("no answer from mvtapd at", e.Message);
    }

    [Fact]
    public void Truncated_response_is_an_error_not_a_hang()
    {
        using var server = new FakeControlServer { RawReply = [0, 0, 0, 100, (byte)'{', (byte)'"'] };
        var sw = Stopwatch.StartNew();
        var e = Assert.Throws<ControlProtocolException>(() =>
            new ControlClient(server.SocketPath, TimeSpan.FromSeconds(5)).Send(new LinkShowRequest()));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(4), $"took {sw.Elapsed}");
        Assert.Equal("truncated control frame: payload has 2 of 100 bytes", e.Message);
    }

    [Fact]
    public void Oversized_response_is_refused()
    {
        using var server = new FakeControlServer { RawReply = [0x7f, 0xff, 0xff, 0xff] };
        var e = Assert.Throws<ControlProtocolException>(() =>
            new ControlClient(server.SocketPath, TimeSpan.FromSeconds(5)).Send(new LinkShowRequest()));
        Assert.Contains("exceeds the maximum", e.Message);
    }

    [Fact]
    public void Oversized_request_is_refused_before_connecting()
    {
        var huge = new LinkSetRequest
        {
            Name = "m0", MacaddrOperation = "set",
            Macaddrs = Enumerable.Range(0, 60_000).Select(i => $"02:00:00:{i >> 16:x2}:{(i >> 8) & 255:x2}:{i & 255:x2}").ToList(),
        };
        var e = Assert.Throws<ControlProtocolException>(() =>
            new ControlClient("/nonexistent/mvtapd.sock").Send(huge));
        Assert.Contains("exceeds the maximum of 1048576 bytes", e.Message);
    }

    [Fact]
    public void Daemon_closing_without_answer_is_an_error()
    {
        using var server = new FakeControlServer { RawReply = [] };
        var e = Assert.Throws<ControlProtocolException>(() =>
            new ControlClient(server.SocketPath, TimeSpan.FromSeconds(5)).Send(new LinkDelRequest { Name = "m0" }));
        Assert.Equal("mvtapd closed the control connection without answering", e.Message);
    }
}
