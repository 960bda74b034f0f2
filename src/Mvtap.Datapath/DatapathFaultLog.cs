// Reports frames whose handling threw (a bug in mvtap, reached by some input) without putting
// logging on the datapath thread. The thread records the first fault it sees — the exception and
// the frame's first bytes, copied into a preallocated buffer — and only counts the ones after
// it until the record has been taken; the supervisor's thread takes it, and logs each distinct
// fault (exception type and where it was thrown) once at error level with its stack, then at
// most once per RepeatInterval as a warning with how many happened meanwhile.
using Microsoft.Extensions.Logging;
using Mvtap.Core.Model;

namespace Mvtap.Datapath;

internal sealed class DatapathFaultLog
{
    /// <summary>How much of a failing frame is logged.</summary>
    public const int HeadLength = 64;
    /// <summary>The same fault is logged again at most this often.</summary>
    public static readonly TimeSpan RepeatInterval = TimeSpan.FromMinutes(1);

    private readonly byte[] _head = new byte[HeadLength];
    private int _headLength, _frameLength;
    private Endpoint? _source;
    private Exception? _pending; // set by the datapath thread, cleared by the reporter
    private long _recorded, _reported;
    // reporter side only
    private readonly Dictionary<string, (DateTime Logged, long Since)> _seen = [];

    /// <summary>Faults recorded so far (each one also counted as an internal_error drop).</summary>
    public long Recorded => Volatile.Read(ref _recorded);

    /// <summary>Datapath thread: a frame from <paramref name="source"/> (null: from the lower) failed.</summary>
    public void Record(Exception error, Endpoint? source, ReadOnlySpan<byte> frame)
    {
        Volatile.Write(ref _recorded, _recorded + 1);
        if (Volatile.Read(ref _pending) is not null) return; // the reporter has not taken the last one yet
        _headLength = Math.Min(frame.Length, HeadLength);
        frame[.._headLength].CopyTo(_head);
        _frameLength = frame.Length;
        _source = source;
        Volatile.Write(ref _pending, error);
    }

    /// <summary>Supervisor thread: logs what was recorded since the last call, rate-limited per fault.</summary>
    public void Report(ILogger log, string lower, DateTime now)
    {
        var error = Volatile.Read(ref _pending);
        if (error is null) return;
        string from = _source is { } ep ? $"endpoint {ep.Name}" : $"lower {lower}";
        string head = Convert.ToHexString(_head, 0, _headLength).ToLowerInvariant();
        int length = _frameLength;
        long recorded = Volatile.Read(ref _recorded);
        long unseen = recorded - _reported - 1; // faults after the one recorded, not logged individually
        _reported = recorded;
        Volatile.Write(ref _pending, null);

        string key = $"{error.GetType().FullName} at {error.TargetSite?.DeclaringType?.FullName}.{error.TargetSite?.Name}";
        if (!_seen.TryGetValue(key, out var seen))
        {
            _seen[key] = (now, 0);
            log.LogError(error, "{Lower}: a frame from {From} ({Length} bytes, first bytes {Head}) raised {Error}; it was dropped " +
                "and counted as internal_error, forwarding goes on{More}", lower, from, length, head, error.Message,
                unseen > 0 ? $" ({unseen} more such frames since)" : "");
            return;
        }
        seen.Since += 1 + unseen;
        if (now - seen.Logged < RepeatInterval)
        {
            _seen[key] = seen;
            return;
        }
        _seen[key] = (now, 0);
        log.LogWarning("{Lower}: {Count} more frames raised {Key} since it was last logged; the last from {From} ({Length} bytes, first bytes {Head})",
            lower, seen.Since, key, from, length, head);
    }
}
