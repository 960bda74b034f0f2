// Runs the captures clients ask for, on whichever socket they asked (the control socket, an
// endpoint owner's capture socket, OwnerCaptureSocket): resolves the request against the registry
// (every field checked, in ip's words), answers it, streams the session on the connection, and
// keeps count of the sessions running, so that mvtapd's stop waits (bounded) for each one to write
// its statistics and summary before the datapath goes.
using Microsoft.Extensions.Logging;
using Mvtap.Control;
using Mvtap.Daemon.Links;

namespace Mvtap.Daemon.Capture;

public sealed class CaptureRunner(LinkRegistry registry, ILogger log)
{
    private readonly object _gate = new();
    private readonly HashSet<Task> _running = [];

    /// <summary>A session for <paramref name="request"/>, or an MvtapException saying why not.</summary>
    public CaptureSession Start(CaptureRequest request, uint uid, string via)
    {
        var session = new CaptureSession(registry.ResolveCapture(request), request, log);
        log.LogInformation("capture of {Names} started for a client (uid {Uid}) on {Via}", string.Join(' ', request.Names!), uid, via);
        return session;
    }

    /// <summary>Answers the request with success and streams <paramref name="session"/> on
    /// <paramref name="stream"/> until it ends (at its count, the client's stop, or mvtapd's).</summary>
    public async Task RunAsync(CaptureSession session, Stream stream, CancellationToken stop)
    {
        var run = Run();
        lock (_gate) _running.Add(run);
        try { await run.ConfigureAwait(false); }
        finally { lock (_gate) _running.Remove(run); }

        async Task Run()
        {
            await ControlFraming.WriteFrameAsync(stream, ControlCodec.EncodeResponse(ControlResponse.Success()), stop).ConfigureAwait(false);
            await session.RunAsync(stream, stop).ConfigureAwait(false);
        }
    }

    /// <summary>After mvtapd's stop was signalled: waits until every running capture has ended (each
    /// writes its statistics and summary first), at most <paramref name="bound"/>.</summary>
    public async Task WhenEndedAsync(TimeSpan bound)
    {
        Task[] running;
        lock (_gate) running = [.. _running];
        try { await Task.WhenAll(running).WaitAsync(bound).ConfigureAwait(false); }
        catch (TimeoutException) { log.LogWarning("{Count} captures did not end within {Seconds} s of mvtapd's stop", running.Count(t => !t.IsCompleted), bound.TotalSeconds); }
        catch (Exception) { /* each connection logs its own end */ }
    }
}
