// One frontend session: read requests until the peer goes away, validate each, dispatch it,
// answer REPLY_ACK. A broken message is counted and logged, refused with a non-zero ack when
// the frontend asked for one, and ends the session; the device then resets and waits for the
// next connection (the frontend's reconnect). Each session has its own call notifier thread.
using Mvtap.Linux.Interop;
using Mvtap.VhostUser.Protocol;
using Mvtap.VhostUser.Virtqueue;

namespace Mvtap.VhostUser.Net;

public sealed partial class VhostUserNetBackend
{
    /// <summary>Serves the frontend on <paramref name="socket"/> on the calling thread until it
    /// disconnects or breaks the protocol. Returns why the session ended. Owns the socket.</summary>
    public string Serve(FileDescriptor socket)
    {
        if (Interlocked.CompareExchange(ref _serving, 1, 0) != 0)
        {
            socket.Dispose();
            throw new InvalidOperationException("a frontend is already being served");
        }
        Interlocked.Increment(ref Counters._connections);
        _log("vhost-user net: frontend connected");
        using var connection = new VhostUserConnection(socket);
        var notifier = StartCallNotifier();
        var message = new VhostUserMessage();
        string reason = "frontend disconnected";
        try
        {
            while (true)
            {
                bool framed = false;
                try
                {
                    if (!connection.Read(message)) break;
                    framed = true;
                    HandleOne(connection, message);
                }
                catch (VhostUserProtocolException e)
                {
                    Interlocked.Increment(ref Counters._protocolErrors);
                    reason = $"protocol error: {e.Message}";
                    _log($"vhost-user net: {reason}; closing the session");
                    // Only a whole message gets an answer; after a framing error the stream is
                    // out of step and the header in hand is not the one that failed.
                    if (framed) TryNack(connection, message);
                    break;
                }
                catch (AccessViolationException)
                {
                    // a handler touched guest memory the frontend had taken away (.Faults.cs)
                    Interlocked.Increment(ref Counters._guestMemoryFaults);
                    reason = "guest memory vanished under its mapping (the frontend shrank its memory file)";
                    _log($"vhost-user net: {reason}; closing the session");
                    break;
                }
                catch (SystemCallException e)
                {
                    // The socket itself failed (the peer vanished mid-reply, reset): a disconnect.
                    reason = $"connection failed: {e.Message}";
                    break;
                }
                finally
                {
                    message.DisposeFds();
                }
            }
        }
        finally
        {
            ResetDevice();
            StopCallNotifier(notifier);
            Interlocked.Increment(ref Counters._disconnects);
            Volatile.Write(ref _serving, 0);
            _log($"vhost-user net: session ended: {reason}");
            QueuesChanged?.Invoke();
        }
        return reason;
    }

    /// <summary>The session's call notifier (CallNotifier: the guest's call eventfds are written
    /// on its thread, never on the datapath's), named by every ring until the session ends.</summary>
    private CallNotifier StartCallNotifier()
    {
        int logged = 0;
        var notifier = new CallNotifier(_vrings, (vring, what) =>
        {
            Interlocked.Increment(ref Counters._callProblems);
            // once per session: a frontend that keeps clearing O_NONBLOCK must not flood the log
            if (Interlocked.Exchange(ref logged, 1) == 0)
                _log($"vhost-user net: {(vring >= 0 ? $"vring {vring}: " : "")}{what} (this guest's interrupts only; counted as call_problems)");
        }, "vhost-user calls");
        using (LockAll())
            foreach (var vq in _vrings) vq.Notifier = notifier;
        Volatile.Write(ref _notifier, notifier);
        return notifier;
    }

    /// <summary>True when no interrupt asked for is still to be written to a call eventfd (or
    /// there is no session). Calls are written on the session's notifier thread, after the batch.</summary>
    public bool CallsSettled => Volatile.Read(ref _notifier) is not { } n || n.Settled;

    private CallNotifier? _notifier;

    private void StopCallNotifier(CallNotifier notifier)
    {
        using (LockAll())
            foreach (var vq in _vrings) vq.Notifier = null;
        Volatile.Write(ref _notifier, null);
        notifier.Dispose();
    }

    private void HandleOne(VhostUserConnection connection, VhostUserMessage message)
    {
        var header = message.Header;
        string? invalid = MessageValidator.Validate(header, message.Payload, message.FdCount);
        if (invalid != null) throw new VhostUserProtocolException(invalid);

        // Decided before dispatch: RESET_OWNER clears the protocol features it is acked under.
        bool ack = header.NeedsReply && ReplyAckNegotiated;
        var outcome = Dispatch(connection, message);
        if (outcome != Outcome.Replied && ack)
            connection.ReplyU64(message.Request, outcome == Outcome.Ok ? 0UL : 1UL);
    }

    // Protocol features are set before SET_FEATURES (QEMU and DPDK both do), so this holds
    // from the first message that could ask for an ack.
    private bool ReplyAckNegotiated => (_protocolFeatures & VhostUserProtocolFeatures.ReplyAck) != 0;

    /// <summary>Refuses the message that broke the session, if its sender waits for an answer.</summary>
    private void TryNack(VhostUserConnection connection, VhostUserMessage message)
    {
        if (!message.Header.NeedsReply || !ReplyAckNegotiated || message.Header.Request == 0) return;
        try { connection.ReplyU64(message.Request, 1); }
        catch (SystemCallException) { /* the peer is gone; nothing to tell it */ }
    }

    /// <summary>Back to the state of a fresh connection: rings stopped and forgotten, memory
    /// unmapped, features cleared, device healthy again.</summary>
    private void ResetDevice()
    {
        using (LockAll())
        {
            foreach (var vq in _vrings) vq.Reset();
            _memory?.Dispose();
            _memory = null;
            _features = 0;
            _protocolFeatures = 0;
            _status = 0;
            _health.Clear();
        }
    }

    private enum Outcome { Ok, Replied, Refused }
}
