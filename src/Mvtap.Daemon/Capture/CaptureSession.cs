// One `mvtap capture` (asked on the control socket or on an owner's capture socket), the consumer
// side of its rings. It makes one CaptureRing per lower involved (that lower's datapath thread is
// its only producer) and a tap per captured interface, streams a pcapng section (a Section Header
// Block, one Interface Description Block per interface, then Enhanced Packet Blocks as the rings
// fill) in CaptureStream frames, and ends at Count frames, at the client's stop (a byte or its
// close), when a captured endpoint is deleted or its lower closed, or when mvtapd stops; it then
// takes its taps out, writes what is left, an Interface Statistics Block per interface and the
// summary. mvtapd's stop does not cut a write short (a frame cut in half would end the client
// without its summary): the writes are abandoned only when they have not finished TailBound after
// it. While the client does not read, nothing drains the rings: the datapath threads drop what
// does not fit and count it, forwarding as before.
using Microsoft.Extensions.Logging;
using Mvtap.Control;
using Mvtap.Control.Capture;
using Mvtap.Daemon.Links;
using Mvtap.Datapath;
using Mvtap.Datapath.Capture;

namespace Mvtap.Daemon.Capture;

public sealed class CaptureSession
{
    /// <summary>Bytes of each ring: a few thousand full-size frames, a record of the largest snaplen twice over.</summary>
    public const int RingBytes = 4 << 20;
    /// <summary>How long the session sleeps when the rings are empty.</summary>
    private static readonly TimeSpan Idle = TimeSpan.FromMilliseconds(10);
    /// <summary>Block bytes gathered before they are sent as one frame.</summary>
    private const int BatchBytes = 256 * 1024;
    /// <summary>How long after mvtapd's stop the session may still write its end.</summary>
    private static readonly TimeSpan TailBound = TimeSpan.FromSeconds(5);

    private readonly IReadOnlyList<CaptureTarget> _targets;
    private readonly long? _count;
    private readonly ILogger _log;
    private readonly CaptureTap[] _taps;
    private readonly CaptureRing[] _rings;
    private readonly long[] _delivered;
    private readonly PcapngWriter _writer = new();
    private long _captured;

    public CaptureSession(IReadOnlyList<CaptureTarget> targets, CaptureRequest request, ILogger log)
    {
        _targets = targets;
        _count = request.Count;
        _log = log;
        int snaplen = request.Snaplen ?? CaptureLimits.MaxSnaplen;
        bool inbound = request.Direction != "out", outbound = request.Direction != "in";
        var rings = new Dictionary<LowerDatapath, CaptureRing>();
        _taps = new CaptureTap[targets.Count];
        for (int i = 0; i < targets.Count; i++)
        {
            if (!rings.TryGetValue(targets[i].Datapath, out var ring)) rings[targets[i].Datapath] = ring = new CaptureRing(RingBytes);
            _taps[i] = new CaptureTap(ring, targets[i].Endpoint, (ushort)i, inbound, outbound, snaplen);
        }
        _rings = [.. rings.Values];
        _delivered = new long[targets.Count];
        Snaplen = snaplen;
    }

    public int Snaplen { get; }

    /// <summary>Streams the capture on <paramref name="stream"/> (the request's answer is sent already)
    /// until it ends; returns its summary.</summary>
    public async Task<CaptureSummary> RunAsync(Stream stream, CancellationToken stop)
    {
        using var abandon = new CancellationTokenSource();
        using var onStop = stop.Register(() => abandon.CancelAfter(TailBound));
        var write = abandon.Token;
        long start = PcapngWriter.UnixMicroseconds(DateTime.UtcNow.Ticks);
        _writer.SectionHeader("mvtapd");
        foreach (var t in _targets) _writer.InterfaceDescription(t.Name, t.Description, Snaplen);
        await SendBlocks(stream, write).ConfigureAwait(false);

        using var ending = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var watch = WatchForStopAsync(stream, ending);
        string? ended = null;
        var added = new List<LowerDatapath>();
        try
        {
            foreach (var group in _targets.Select((t, i) => (t.Datapath, Tap: _taps[i])).GroupBy(x => x.Datapath))
            {
                group.Key.AddCaptureTaps([.. group.Select(x => x.Tap)]);
                added.Add(group.Key);
            }
            while (true)
            {
                int drained = Drain();
                if (_writer.Length > 0) await SendBlocks(stream, write).ConfigureAwait(false);
                if (CountReached || ending.IsCancellationRequested) break;
                if ((ended = Gone()) is not null) break;
                if (drained == 0)
                {
                    try { await Task.Delay(Idle, ending.Token).ConfigureAwait(false); }
                    catch (OperationCanceledException) { /* asked to end: the loop looks once more */ }
                }
            }
        }
        catch (ObjectDisposedException)
        {
            ended = "its lower was closed";
        }
        finally
        {
            foreach (var dp in added) dp.RemoveCaptureTaps(_taps);
        }
        if (ended is null && stop.IsCancellationRequested) ended = "mvtapd stopped";
        // the taps are out: what is in the rings is all there is
        while (!CountReached && Drain() > 0) await SendBlocks(stream, write).ConfigureAwait(false);
        long end = PcapngWriter.UnixMicroseconds(DateTime.UtcNow.Ticks);
        for (int i = 0; i < _taps.Length; i++)
            _writer.InterfaceStatistics((uint)i, end, start, (ulong)_taps[i].Seen, (ulong)_taps[i].Dropped, (ulong)_delivered[i]);
        await SendBlocks(stream, write).ConfigureAwait(false);
        var summary = new CaptureSummary
        {
            Captured = _captured,
            Seen = _taps.Sum(t => t.Seen),
            Dropped = _taps.Sum(t => t.Dropped),
            Ended = ended,
        };
        await ControlFraming.WriteFrameAsync(stream, CaptureStream.EncodeSummary(summary), write).ConfigureAwait(false);
        await ending.CancelAsync().ConfigureAwait(false);
        await watch.ConfigureAwait(false);
        _log.LogInformation("capture of {Names} ended{Why}: {Captured} frames captured, {Dropped} dropped (reader too slow)",
            string.Join(' ', _targets.Select(t => t.Name)), ended is null ? "" : $" ({ended})", summary.Captured, summary.Dropped);
        return summary;
    }

    private bool CountReached => _count is { } n && _captured >= n;

    // Moves records from the rings into the writer (a batch at most); returns how many.
    private int Drain()
    {
        int moved = 0;
        bool more = true;
        while (more && _writer.Length < BatchBytes && !CountReached)
        {
            more = false;
            foreach (var ring in _rings)
            {
                if (CountReached || !ring.TryPeek(out var f)) continue;
                if (f.Interface < _taps.Length)
                {
                    _writer.EnhancedPacket(f.Interface, PcapngWriter.UnixMicroseconds(f.Ticks), ring.Bytes(f), f.Original,
                        f.Direction == CaptureDirection.Inbound ? PcapngWriter.Inbound : PcapngWriter.Outbound);
                    _delivered[f.Interface]++;
                    _captured++;
                }
                ring.Release(f);
                moved++;
                more = true;
            }
        }
        return moved;
    }

    private string? Gone()
    {
        foreach (var t in _targets)
        {
            if (t.Endpoint is { IsDeleted: true }) return $"{t.Name} was deleted";
            if (t.Datapath.State == DatapathState.Stopped) return $"{t.Datapath.Lower.Name} was closed";
        }
        return null;
    }

    private async Task SendBlocks(Stream stream, CancellationToken stop)
    {
        if (_writer.Length == 0) return;
        var frame = new byte[_writer.Length + 1];
        frame[0] = CaptureStream.Blocks;
        _writer.Written.Span.CopyTo(frame.AsSpan(1));
        _writer.Clear();
        await ControlFraming.WriteFrameAsync(stream, frame, stop).ConfigureAwait(false);
    }

    // The client's stop: any byte, or its end of the connection.
    private static async Task WatchForStopAsync(Stream stream, CancellationTokenSource ending)
    {
        try { await stream.ReadAsync(new byte[1], ending.Token).ConfigureAwait(false); }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or OperationCanceledException or ObjectDisposedException) { }
        await ending.CancelAsync().ConfigureAwait(false);
    }
}
