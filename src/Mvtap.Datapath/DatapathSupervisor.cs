// The supervisor of every datapath thread in the process: one small thread that, a few times a
// second, logs what the datapath threads recorded (frames whose handling threw, a thread that
// ended), restarts a thread whose back-off is over, and gives attachments that failed as a whole
// another chance. Nothing here runs on a datapath thread, so logging never slows forwarding.
namespace Mvtap.Datapath;

internal static class DatapathSupervisor
{
    /// <summary>How often the supervisor looks; bounds how late a restart or a log line comes.</summary>
    public static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(200);

    private static readonly object Gate = new();
    private static readonly List<LowerDatapath> Datapaths = [];
    private static readonly AutoResetEvent Wake = new(false);
    private static Thread? _thread;

    public static void Add(LowerDatapath datapath)
    {
        lock (Gate)
        {
            Datapaths.Add(datapath);
            if (_thread is null)
            {
                _thread = new Thread(Run) { IsBackground = true, Name = "mvtap datapath supervisor" };
                _thread.Start();
            }
        }
    }

    public static void Remove(LowerDatapath datapath)
    {
        lock (Gate) Datapaths.Remove(datapath);
    }

    /// <summary>Look now rather than at the next tick (a thread just failed).</summary>
    public static void Poke() => Wake.Set();

    private static void Run()
    {
        while (true)
        {
            Wake.WaitOne(Tick);
            LowerDatapath[] all;
            lock (Gate) all = [.. Datapaths];
            var now = DateTime.UtcNow;
            foreach (var dp in all)
            {
                // whatever goes wrong with one datapath must not stop the supervision of the others
                try { dp.Supervise(now); }
                catch (Exception e) { Console.Error.WriteLine($"mvtap: supervising the datapath of {dp.Lower.Name} failed: {e}"); }
            }
        }
    }
}
