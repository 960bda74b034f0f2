// Feeds systemd's watchdog (WatchdogSec= in the unit): sd_notify "WATCHDOG=1" over $NOTIFY_SOCKET
// every half WATCHDOG_USEC, honouring WATCHDOG_PID, but only while every datapath thread that
// should be running answers a heartbeat (a no-op through its own command queue, so an idle thread
// answers too). A thread waiting out its restart back-off is the supervisor's business, not a
// hang. A hung thread stops the feeding, so systemd restarts mvtapd, whose state survives it.
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Mvtap.Datapath;

namespace Mvtap.Daemon;

public sealed class SystemdWatchdog : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly UnixDomainSocketEndPoint _target;
    private readonly Func<IReadOnlyList<LowerDatapath>> _datapaths;
    private readonly ILogger _log;
    private readonly ManualResetEventSlim _stop = new();
    private readonly Thread _thread;
    private bool _withholding, _sendFailed;
    private long _ticks, _pings, _withheld;

    /// <summary>The watchdog systemd asked for, or null when it asked for none (or for another process).</summary>
    public static SystemdWatchdog? FromEnvironment(Func<IReadOnlyList<LowerDatapath>> datapaths, ILogger log) =>
        FromEnvironment(Environment.GetEnvironmentVariable, datapaths, log);

    /// <summary>As <see cref="FromEnvironment(Func{IReadOnlyList{LowerDatapath}}, ILogger)"/>, reading the variables through <paramref name="variable"/>.</summary>
    public static SystemdWatchdog? FromEnvironment(Func<string, string?> variable, Func<IReadOnlyList<LowerDatapath>> datapaths, ILogger log)
    {
        string? socket = variable("NOTIFY_SOCKET");
        if (string.IsNullOrEmpty(socket) || !ulong.TryParse(variable("WATCHDOG_USEC"), out ulong usec) || usec == 0)
            return null;
        string? pid = variable("WATCHDOG_PID");
        if (!string.IsNullOrEmpty(pid) && pid != Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture))
            return null; // meant for another process (sd_watchdog_enabled)
        return new SystemdWatchdog(socket, TimeSpan.FromMicroseconds(usec), datapaths, log);
    }

    /// <param name="notifySocket">$NOTIFY_SOCKET: a path, or "@name" in the abstract namespace.</param>
    /// <param name="timeout">WATCHDOG_USEC: the watchdog is fed every half of it.</param>
    public SystemdWatchdog(string notifySocket, TimeSpan timeout, Func<IReadOnlyList<LowerDatapath>> datapaths, ILogger log)
    {
        _target = new UnixDomainSocketEndPoint(notifySocket.StartsWith('@') ? "\0" + notifySocket[1..] : notifySocket);
        _datapaths = datapaths;
        _log = log;
        Interval = timeout / 2;
        _thread = new Thread(Run) { IsBackground = true, Name = "mvtapd watchdog" };
        _thread.Start();
        log.LogInformation("feeding the systemd watchdog every {Interval} s while the datapath threads answer", Interval.TotalSeconds);
    }

    public TimeSpan Interval { get; }
    /// <summary>Periods looked at, watchdog messages sent, and periods a thread did not answer.</summary>
    public long Ticks => Volatile.Read(ref _ticks);
    public long Pings => Volatile.Read(ref _pings);
    public long Withheld => Volatile.Read(ref _withheld);

    private void Run()
    {
        while (!_stop.Wait(Interval))
        {
            try { Tick(); }
            catch (Exception e) { _log.LogError(e, "the watchdog could not look at the datapath threads: {Error}", e.Message); }
            Interlocked.Increment(ref _ticks);
        }
    }

    private void Tick()
    {
        var silent = new List<string>();
        foreach (var dp in _datapaths())
            if (!dp.CheckHeartbeat()) silent.Add(dp.Lower.Name);
        if (silent.Count > 0)
        {
            Interlocked.Increment(ref _withheld);
            if (!_withholding)
                _log.LogError("the datapath thread of {Lowers} did not answer a heartbeat within {Interval} s: it hangs; no longer feeding " +
                    "the systemd watchdog, so mvtapd is restarted (its state survives)", string.Join(", ", silent), Interval.TotalSeconds);
            _withholding = true;
            return;
        }
        if (_withholding) _log.LogWarning("every datapath thread answers again; feeding the systemd watchdog again");
        _withholding = false;
        try
        {
            _socket.SendTo(Encoding.ASCII.GetBytes("WATCHDOG=1"), _target);
            Interlocked.Increment(ref _pings);
            _sendFailed = false;
        }
        catch (SocketException e)
        {
            if (!_sendFailed) _log.LogWarning("cannot notify systemd at {Socket}: {Error}", _target, e.Message);
            _sendFailed = true;
        }
    }

    public void Dispose()
    {
        _stop.Set();
        _thread.Join(TimeSpan.FromSeconds(5));
        _socket.Dispose();
    }
}
