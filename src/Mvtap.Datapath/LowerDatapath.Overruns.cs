// Frames the kernel dropped before the datapath thread read them: when the thread falls behind,
// the receive ring of a packet socket it reads (the lower's, a veth outer end's, a persistent
// TAP's) fills and the kernel drops what arrives, counting it in the socket's PACKET_STATISTICS.
// The thread reads those counts (one getsockopt per socket, which also resets them) about once a
// second while frames flow, and once more a second after the last frame, so a burst's losses show
// up as drops with reason socket_overrun on the lower or the endpoint whose socket lost them.
using Mvtap.Core.Model;

namespace Mvtap.Datapath;

public sealed partial class LowerDatapath
{
    /// <summary>How often, at most, the sockets' drop counts are read while frames flow.</summary>
    internal static readonly TimeSpan OverrunCheck = TimeSpan.FromSeconds(1);

    private bool _overrunsUnread;       // frames came since the last read
    private long _overrunsDue;          // then: Environment.TickCount64 of the next read

    /// <summary>Milliseconds until the counts are due while frames came since the last read, else -1 (no limit).</summary>
    private int OverrunWait() =>
        !_overrunsUnread ? -1 : (int)Math.Clamp(_overrunsDue - Environment.TickCount64, 0, (long)OverrunCheck.TotalMilliseconds);

    private static int SoonerOf(int a, int b) => a < 0 ? b : b < 0 ? a : Math.Min(a, b);

    private void CountSocketOverrunsWhenDue(bool framesCame)
    {
        long now = Environment.TickCount64;
        if (framesCame && !_overrunsUnread)
        {
            _overrunsUnread = true;
            _overrunsDue = now + (long)OverrunCheck.TotalMilliseconds;
        }
        if (!_overrunsUnread || now < _overrunsDue) return;
        _overrunsUnread = false;
        CountSocketOverruns();
    }

    /// <summary>Reads and counts every socket's drops now (also before a socket is let go).</summary>
    private void CountSocketOverruns()
    {
        if (_lowerSocket is { } lower)
        {
            try { Port.Counters.AddDrops(DropReason.SocketOverrun, lower.ReadStatistics().Drops); }
            catch (Exception) { /* a socket that failed: its reads say so */ }
        }
        foreach (var a in _poll.Slots)
        {
            if (a is null) continue;
            try { a.Attachment.Endpoint.Counters.AddDrops(DropReason.SocketOverrun, a.Attachment.TakeSocketOverruns()); }
            catch (Exception) { /* likewise */ }
        }
    }
}
