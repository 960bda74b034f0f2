// A stand-in for mvtapd in tests: listens on a real Unix stream socket in a temp directory,
// reads framed requests and answers with whatever the test's handler returns. It can also stay
// silent or send raw bytes, to test the client's timeout and truncation handling.
using System.Net.Sockets;
using Mvtap.Control;

namespace Mvtap.Cli.Tests;

internal sealed class FakeControlServer : IDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public string RunDir { get; }
    public string SocketPath => ControlPaths.SocketPath(RunDir);
    public List<ControlRequest> Received { get; } = [];

    /// <summary>Answers each decoded request.</summary>
    public Func<ControlRequest, ControlResponse>? Handler { get; init; }
    /// <summary>If set, written as is instead of a framed response (after reading the request).</summary>
    public byte[]? RawReply { get; init; }
    /// <summary>Read the request and never answer.</summary>
    public bool Silent { get; init; }

    public FakeControlServer()
    {
        RunDir = Directory.CreateTempSubdirectory("mvtap-cli-test-").FullName;
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        _listener.Listen(8);
        _loop = Task.Run(AcceptLoop);
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket conn;
            try { conn = await _listener.AcceptAsync(_stop.Token); }
            catch (Exception) { return; }
            _ = Task.Run(() => Serve(conn));
        }
    }

    private async Task Serve(Socket conn)
    {
        using var _ = conn;
        using var stream = new NetworkStream(conn, ownsSocket: false);
        try
        {
            var payload = await ControlFraming.ReadFrameAsync(stream, _stop.Token);
            if (payload is null) return;
            var request = ControlCodec.DecodeRequest(payload);
            lock (Received) Received.Add(request);
            if (Silent) { await Task.Delay(Timeout.Infinite, _stop.Token); return; }
            if (RawReply is not null) { await stream.WriteAsync(RawReply, _stop.Token); return; }
            var response = Handler?.Invoke(request) ?? ControlResponse.Success();
            await ControlFraming.WriteFrameAsync(stream, ControlCodec.EncodeResponse(response), _stop.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ControlProtocolException) { }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
        try { _loop.Wait(TimeSpan.FromSeconds(2)); } catch (AggregateException) { }
        try { Directory.Delete(RunDir, recursive: true); } catch (IOException) { }
    }
}
