// The client end of the control socket: connect to <run-dir>/mvtapd.sock, send one request
// frame, read one response frame, all bounded by a timeout so a silent or dead daemon gives an
// error instead of a hang. One request per connection keeps the daemon side simple; a monitor
// request's connection then carries the daemon's events, read without a timeout until it closes;
// a capture's carries its pcapng stream (Open).
using System.Net.Sockets;

namespace Mvtap.Control;

public sealed class ControlClient
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    public string SocketPath { get; }
    public TimeSpan Timeout { get; }

    public ControlClient(string socketPath, TimeSpan? timeout = null)
    {
        SocketPath = socketPath;
        Timeout = timeout ?? DefaultTimeout;
    }

    /// <summary>Sends the request and returns the daemon's response (which may be a refusal).
    /// Throws ControlProtocolException when there is no daemon, the frames are bad, or time runs out.</summary>
    public ControlResponse Send(ControlRequest request)
    {
        var payload = ControlCodec.EncodeRequest(request);
        if (payload.Length > ControlFraming.MaxFrameSize)
            throw new ControlProtocolException(
                $"control frame of {payload.Length} bytes exceeds the maximum of {ControlFraming.MaxFrameSize} bytes");

        using var socket = Connect();
        using var stream = new NetworkStream(socket, ownsSocket: false);
        return Exchange(stream, payload);
    }

    /// <summary>Sends a MonitorRequest; when the daemon accepts it, hands each event it sends to
    /// <paramref name="onEvent"/> until the daemon closes the connection. Returns the daemon's answer.</summary>
    public ControlResponse Monitor(Action<LinkEvent> onEvent)
    {
        using var socket = Connect();
        using var stream = new NetworkStream(socket, ownsSocket: false);
        var response = Exchange(stream, ControlCodec.EncodeRequest(new MonitorRequest()));
        if (!response.Ok) return response;
        socket.ReceiveTimeout = 0; // events come when things change: wait for them
        try
        {
            while (ControlFraming.ReadFrame(stream) is { } frame) onEvent(ControlCodec.DecodeEvent(frame));
        }
        catch (IOException e)
        {
            throw new ControlProtocolException($"control connection to mvtapd failed: {e.Message}", e);
        }
        return response;
    }

    /// <summary>Sends a request whose accepted answer is followed by a stream (a capture); returns the
    /// answer and, when it is a success, the connected socket (no receive timeout) that carries the rest.</summary>
    public (ControlResponse Response, Socket? Stream) Open(ControlRequest request)
    {
        var socket = Connect();
        try
        {
            using (var stream = new NetworkStream(socket, ownsSocket: false))
            {
                var response = Exchange(stream, ControlCodec.EncodeRequest(request));
                if (!response.Ok) { socket.Dispose(); return (response, null); }
            }
            socket.ReceiveTimeout = 0;
            return (ControlResponse.Success(), socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private Socket Connect()
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        int ms = (int)Math.Clamp(Timeout.TotalMilliseconds, 1, int.MaxValue);
        socket.SendTimeout = ms;
        socket.ReceiveTimeout = ms;
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(SocketPath));
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new ControlProtocolException(
                $"Cannot connect to mvtapd at {SocketPath}: {e.Message} (is mvtapd running?)", e);
        }
    }

    private ControlResponse Exchange(NetworkStream stream, byte[] payload)
    {
        try
        {
            ControlFraming.WriteFrame(stream, payload);
            var reply = ControlFraming.ReadFrame(stream)
                        ?? throw new ControlProtocolException("mvtapd closed the control connection without answering");
            return ControlCodec.DecodeResponse(reply);
        }
        catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.TimedOut or SocketError.WouldBlock })
        {
            throw new ControlProtocolException($"no answer from mvtapd at {SocketPath} within {Timeout.TotalSeconds:0.#} s", e);
        }
        catch (IOException e)
        {
            throw new ControlProtocolException($"control connection to mvtapd failed: {e.Message}", e);
        }
    }
}
