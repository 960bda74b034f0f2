// What carries one endpoint's frames to and from its user, as the datapath thread of its lower
// sees it (design.md "Datapath shape"): a few descriptors to poll (a veth or TAP's packet
// socket, vhost-user kick eventfds, a stream socket), a batch read from one of them into slots
// the attachment preallocated, and a transmit side that collects frames during a wake-up and
// flushes them once at its end. Every member runs on the datapath thread (an attachment whose
// descriptors change asks for them to be read again through LowerDatapath.RequestResync, from any
// thread), so an attachment needs no lock of its own against the loop.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Linux;

namespace Mvtap.Datapath;

public interface IEndpointAttachment
{
    /// <summary>The endpoint whose frames this attachment carries.</summary>
    Endpoint Endpoint { get; }

    /// <summary>The descriptors to poll for input, at most <see cref="LowerDatapath.MaxPollFds"/>;
    /// returns how many were written. Called when attached and after each resync.</summary>
    int GetPollFds(Span<int> fds);

    /// <summary>Called on the datapath thread once the attachment is served by <paramref name="datapath"/>
    /// (null: no longer served); keep it to ask for a resync when the descriptors change.</summary>
    void SetDatapath(LowerDatapath? datapath);

    /// <summary>Reads one batch from poll descriptor <paramref name="source"/> into preallocated slots
    /// (a packet attachment may use the datapath's shared <paramref name="scratch"/>). Returns the frame
    /// count, or -1 on an I/O error the datapath counts. Sets <see cref="ReceivePending"/> when more
    /// may be waiting without a new readiness event (a full batch, a ring with work left).</summary>
    int ReceiveBatch(int source, SocketFrameBatch scratch);

    /// <summary>Frame <paramref name="i"/> of the last batch: a frame to forward, one to ignore
    /// (our own transmission seen again), or one to drop as malformed.</summary>
    ReceivedFrame GetFrame(int i, SocketFrameBatch scratch, out ReadOnlySpan<byte> frame, out VirtioNetHeader vnet);

    /// <summary>The last batch has been forwarded (every frame of it copied where it goes): memory it
    /// was read into in place (a packet ring's slots) may be handed back.</summary>
    void EndReceive() { }

    /// <summary>Frames the kernel dropped since the last call because this attachment's packet socket
    /// was full (PACKET_STATISTICS; reading resets it). Attachments without one lose nothing unseen.</summary>
    long TakeSocketOverruns() => 0;

    /// <summary>True when <see cref="ReceiveBatch"/> should be called again for <see cref="PendingSource"/>
    /// before the thread sleeps.</summary>
    bool ReceivePending { get; }
    int PendingSource { get; }

    /// <summary>Queues <paramref name="packet"/> for the endpoint's user; a full queue is flushed
    /// early. Drops are counted on the endpoint.</summary>
    void Deliver(in VnetFrame packet);

    /// <summary>Hands everything queued to the user (one syscall or one ring update per batch).</summary>
    void Flush();
}

/// <summary>What a received frame is: one to forward, one to ignore (our own transmission seen
/// again), a malformed one (dropped as Malformed), or one the kernel lost part of because our
/// receive queue was full (dropped as QueueFull).</summary>
public enum ReceivedFrame { Frame, Ignore, Malformed, Overflow }
