// Counters of one datapath thread that have no home in the core's per-endpoint and per-port
// counters: what the thread itself did (batches, frames) and what the kernel refused it.
// Written by the datapath thread only; read from anywhere (plain longs, read with Volatile).
namespace Mvtap.Datapath;

public sealed class DatapathStats
{
    internal long wakeups, framesFromLower, framesFromEndpoints, lowerStackPassed, wireSent, wireRefused, wireErrors,
        endpointSent, truncated, overflows, receiveErrors, commands, gsoFrames, allocatedBytes, internalErrors,
        broadcastQueueDepth, reassemblyDatagrams, reassemblyBytes;

    /// <summary>Frames read per wake-up.</summary>
    public FramesPerWakeupHistogram FramesPerWakeup { get; } = new();
    /// <summary>Frames in the lower's broadcast queue when the thread last ran its broadcast work.</summary>
    public long BroadcastQueueDepth => Volatile.Read(ref broadcastQueueDepth);
    /// <summary>IPv4 multicast datagrams held in reassembly (slots in use) after the last wake-up, and their bytes.</summary>
    public long ReassemblyDatagrams => Volatile.Read(ref reassemblyDatagrams);
    public long ReassemblyBytes => Volatile.Read(ref reassemblyBytes);
    internal long completedWakeups;

    public long Wakeups => Volatile.Read(ref wakeups);
    /// <summary>Wake-ups whose work is done: every frame read in them forwarded, flushed to its sockets and
    /// its broadcasts sent. Once this reaches the value <see cref="Wakeups"/> had when a frame was seen read,
    /// that frame has left the thread.</summary>
    public long CompletedWakeups => Volatile.Read(ref completedWakeups);
    public long FramesFromLower => Volatile.Read(ref framesFromLower);
    public long FramesFromEndpoints => Volatile.Read(ref framesFromEndpoints);
    /// <summary>Frames the core passed to the lower's own stack (RX_HANDLER_PASS). Nothing to do
    /// for an AF_PACKET lower: the kernel's stack had its copy already; counted for visibility.</summary>
    public long LowerStackPassed => Volatile.Read(ref lowerStackPassed);
    /// <summary>Frames the lower's device took, including those it then dropped and counted itself
    /// (ENOBUFS: its queue or driver dropped it).</summary>
    public long WireSent => Volatile.Read(ref wireSent);
    /// <summary>Frames for the wire the lower's socket would not take (buffer full).</summary>
    public long WireRefused => Volatile.Read(ref wireRefused);
    /// <summary>Frames for the wire the kernel rejected (bad header, too big, device down).</summary>
    public long WireErrors => Volatile.Read(ref wireErrors);
    public long EndpointSent => Volatile.Read(ref endpointSent);
    /// <summary>Received frames longer than a receive slot (cut by the kernel), dropped.</summary>
    public long Truncated => Volatile.Read(ref truncated);
    /// <summary>Frames larger than a ring slot that the kernel could not queue whole because the
    /// socket's receive buffer was full (the datapath thread fell behind); dropped as QueueFull.</summary>
    public long Overflows => Volatile.Read(ref overflows);
    public long ReceiveErrors => Volatile.Read(ref receiveErrors);
    public long Commands => Volatile.Read(ref commands);
    /// <summary>Frames whose handling threw (dropped and counted as internal_error where they came from).</summary>
    public long InternalErrors => Volatile.Read(ref internalErrors);
    /// <summary>Received frames carrying GSO metadata (super-frames forwarded whole, not segmented).</summary>
    public long GsoFrames => Volatile.Read(ref gsoFrames);
    /// <summary>Bytes the datapath thread has allocated on the managed heap so far, sampled after
    /// each wake-up: in a steady flow it must not grow (design.md: nothing allocated per frame).</summary>
    public long AllocatedBytes => Volatile.Read(ref allocatedBytes);
}
