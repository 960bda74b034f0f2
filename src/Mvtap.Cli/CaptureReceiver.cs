// The client end of a capture stream (Mvtap.Control.Capture.CaptureStream): reads mvtapd's
// frames, checks that each carries whole pcapng blocks before a byte of it reaches the output, and
// writes and flushes them as they come (a live reader sees each batch at once). A stop (Ctrl-C,
// SIGTERM, or the output closing under us, as when tcpdump ends) is sent to mvtapd, which ends
// the capture with its statistics; if mvtapd does not end it within StopBound, the connection is
// closed. Everything read from the socket is outside input: malformed, it ends the command.
using System.Net.Sockets;
using Mvtap.Control;
using Mvtap.Control.Capture;

namespace Mvtap.Cli;

internal sealed class CaptureReceiver(Socket socket, Stream output)
{
    private static readonly TimeSpan StopBound = TimeSpan.FromSeconds(10);
    private int _stopped;
    private bool _outputGone;
    private Timer? _bound;

    /// <summary>Asks mvtapd to end the capture (once); from any thread, a signal handler's too.</summary>
    public void RequestStop()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0) return;
        try { socket.Send([CaptureStream.Stop]); }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        _bound = new Timer(_ => socket.Dispose(), null, StopBound, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Copies the stream to the output until mvtapd's summary, which it returns.</summary>
    public CaptureSummary Run()
    {
        using var stream = new NetworkStream(socket, ownsSocket: false);
        bool first = true;
        try
        {
            while (true)
            {
                var frame = ControlFraming.ReadFrame(stream)
                            ?? throw new ControlProtocolException("mvtapd ended the capture stream without its summary");
                if (frame.Length == 0) throw new ControlProtocolException("malformed capture stream: an empty frame");
                var body = frame.AsSpan(1);
                switch (frame[0])
                {
                    case CaptureStream.Blocks:
                        CaptureStream.CheckBlocks(body, first);
                        first = false;
                        Write(body);
                        break;
                    case CaptureStream.End:
                        return CaptureStream.DecodeSummary(body);
                    default:
                        throw new ControlProtocolException($"malformed capture stream: a frame of kind {frame[0]}");
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException)
        {
            throw new ControlProtocolException(Volatile.Read(ref _stopped) != 0
                ? $"mvtapd did not end the capture within {StopBound.TotalSeconds:0} s of being asked"
                : $"capture connection to mvtapd failed: {e.Message}", e);
        }
        finally
        {
            _bound?.Dispose();
        }
    }

    private void Write(ReadOnlySpan<byte> blocks)
    {
        if (_outputGone) return;
        try
        {
            output.Write(blocks);
            output.Flush();
        }
        catch (IOException)
        {
            // the reader went (tcpdump ended, the pipe closed): end the capture, keep its summary
            _outputGone = true;
            RequestStop();
        }
    }
}
